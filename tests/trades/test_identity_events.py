"""Identity is an event, not a field: a changed or failed identity check, and a newer sanctions
list, are seen by the trades already under way, at the decision and just before the bank transfer.

The service layer on a real database (both backends) with the sandboxes over HTTP.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select

from tests.support.core import Core
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import SELLER_CLEARED
from voucher_exchange.db.schema import jobs, payout_destinations
from voucher_exchange.identity import service as identity_service
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import WAITING_FOR_CLEARANCE, PayoutHeld, PayoutStatus, TreasuryShort
from voucher_exchange.risk import sanctions_customers, sanctions_list, sanctions_standing
from voucher_exchange.risk.sanctions_standing import Subject
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TradeStatus
from voucher_exchange.worker.runner import Worker

pytestmark = pytest.mark.both_backends

S = TradeStatus
BORN = date(1990, 5, 17)
PHONE = "010-1234-5678"


def _status(core: Core, trade_id: str) -> TradeStatus:
    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
    assert trade is not None
    return trade.status


def _reasons(core: Core, trade_id: str) -> list[str]:
    with core.ctx.uow(readonly=True) as uow:
        live = [
            d
            for d in trade_repo.all_decisions(uow.conn, trade_id)
            if d.outcome == "reject" and "shadow" not in d.stage.value
        ]
    return live[-1].reasons


def _job(core: Core, trade_id: str) -> tuple[str, str | None, bool]:
    """The trade's job: (status, why it waits, due now)."""
    j = jobs.c
    with core.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(select(j.status, j.last_error, j.run_at).where(j.ref == trade_id)).one()
    return row.status, row.last_error, row.run_at <= core.ctx.clock.now()


def _balances(core: Core) -> dict[str, tuple[int, int]]:
    with core.ctx.uow(readonly=True) as uow:
        return {b["account"]: (b["balance"], b["pending"]) for b in ledger_service.balances(uow.conn)}


def _destination_statuses(core: Core, user_id: str) -> dict[str, str]:
    d = payout_destinations.c
    with core.ctx.uow(readonly=True) as uow:
        return {r.id: r.status for r in uow.conn.execute(select(d.id, d.status).where(d.user_id == user_id))}


def _account(core: Core, user_id: str, name: str) -> tuple[str, str]:
    """A bank account held in `name`, added as a payout destination: (destination id, number)."""
    number = str(uuid.uuid4().int)[:12]
    core.sandbox("/rail/accounts", {"bank_code": "004", "account_number": number, "holder_name": name})
    added = identity_service.add_payout_destination(core.ctx, core.user(user_id), "004", number, name)
    return added.id, number


def _load_list_naming(core: Core, name: str) -> int:
    """A new sanctions list naming `name` (born the seller's birthday), loaded without re-screening."""
    sdn = f'9001,"{name}","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 17 May 1990."\n'
    with core.ctx.uow() as uow:
        sanctions_list.load(uow.conn, sdn, None, "test-sdn.csv", core.ctx.clock.now())
        list_id = sanctions_list.current_list_id(uow.conn)
        uow.commit()
    assert list_id is not None
    return list_id


def test_a_new_legal_name_drops_the_tier_and_unconfirms_accounts_in_the_old_name(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, old_dest, _ = core.seller()
    old_name = user.legal_name
    assert old_name is not None and user.kyc_tier == 1
    new_name = f"Lee Sora {uuid.uuid4().hex[:6]}"

    outcome = identity_service.verify_identity(core.ctx, user, new_name, BORN, PHONE)

    assert (outcome.kyc_tier, outcome.refused) == (0, None)
    assert _destination_statuses(core, user.id) == {old_dest: "unconfirmed"}
    with core.ctx.uow(readonly=True) as uow:
        checks = account_repo.identity_checks_of(uow.conn, user.id)
    assert [(c.legal_name, c.status.value, c.name_changed, c.tier_before, c.tier_after) for c in checks] == [
        (old_name, "verified", False, 0, 0),  # the bank account came after
        (new_name, "verified", True, 1, 0),
    ]
    # Tier 0 sells nothing: refused at screening, nothing claimed, nothing moved.
    before = _balances(core)
    refused = core.submit(core.user(user.id), old_dest)
    pipeline.process_trade(core.ctx, refused)
    assert (_status(core, refused), _reasons(core, refused)) == (S.REJECTED, ["kyc_required"])
    assert _balances(core) == before

    # An account in the new name brings tier 1 back; the old-name account still may not be paid.
    new_dest, new_number = _account(core, user.id, new_name)
    assert core.user(user.id).kyc_tier == 1
    mismatch = core.submit(core.user(user.id), old_dest)
    pipeline.process_trade(core.ctx, mismatch)
    assert _status(core, mismatch) is S.REJECTED
    assert _reasons(core, mismatch) == ["payout_destination_mismatch"]
    assert _balances(core) == before
    paid = core.submit(core.user(user.id), new_dest)
    pipeline.process_trade(core.ctx, paid)
    assert _status(core, paid) is S.PAID
    assert [t["amount"] for t in core.rail_transfers(new_number)] == [45500]

    # Verified again under the old name: its account is usable again, the other one is not.
    identity_service.verify_identity(core.ctx, core.user(user.id), old_name, BORN, PHONE)
    assert _destination_statuses(core, user.id) == {old_dest: "verified", new_dest: "unconfirmed"}


def test_a_failed_re_check_stops_selling(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, dest, account = core.seller()

    outcome = identity_service.verify_identity(core.ctx, user, user.legal_name or "", BORN, "12")

    assert (outcome.kyc_tier, outcome.refused) == (0, "phone_invalid")
    stored = core.user(user.id)
    assert (stored.identity_status.value, stored.kyc_tier) == ("failed", 0)
    before = _balances(core)
    trade_id = core.submit(stored, dest)
    pipeline.process_trade(core.ctx, trade_id)
    assert (_status(core, trade_id), _reasons(core, trade_id)) == (S.REJECTED, ["kyc_required"])
    assert _balances(core) == before and core.rail_transfers(account) == []


def test_a_name_change_after_the_credit_holds_the_transfer_until_verified_again(core: Core) -> None:
    user, dest, account = core.seller()
    trade_id = core.submit(user, dest)
    with pytest.raises(TreasuryShort):  # the treasury is empty: the payout waits, created, unsent
        pipeline.process_trade(core.ctx, trade_id)
    assert _status(core, trade_id) is S.PAYING_OUT
    identity_service.verify_identity(core.ctx, user, f"Park Jiho {uuid.uuid4().hex[:6]}", BORN, PHONE)
    core.fund(1_000_000, "seed")

    worker = Worker(core.ctx)
    assert worker.run_once()  # the trade's job: held just before the transfer, waits for clearance

    assert _job(core, trade_id) == ("queued", WAITING_FOR_CLEARANCE, False)
    with core.ctx.uow(readonly=True) as uow:
        payout = payout_service.for_trade(uow.conn, trade_id)
    assert payout is not None and payout.status is PayoutStatus.CREATED and payout.pending_transfer_id is None
    assert core.rail_transfers(account) == []
    assert _status(core, trade_id) is S.PAYING_OUT
    with pytest.raises(PayoutHeld) as held:
        pipeline.process_trade(core.ctx, trade_id)
    assert held.value.why == "identity"

    identity_service.verify_identity(core.ctx, core.user(user.id), user.legal_name or "", BORN, PHONE)
    # The check enqueued `seller.cleared` in its transaction (identity never calls up into trades);
    # the worker runs it, trades wake the held trade, and the worker takes that job next.
    with core.ctx.uow(readonly=True) as uow:
        cleared = uow.conn.execute(select(jobs.c.kind).where(jobs.c.ref == user.id)).scalars().all()
    assert cleared == [SELLER_CLEARED]
    assert _job(core, trade_id) == ("queued", WAITING_FOR_CLEARANCE, False)
    assert worker.run_once()
    assert _job(core, trade_id) == ("running", WAITING_FOR_CLEARANCE, True)  # woken by the new check
    assert worker.run_once()
    assert _status(core, trade_id) is S.PAID
    assert [t["amount"] for t in core.rail_transfers(account)] == [45500]


def test_the_current_sanctions_list_decides_even_before_a_re_screen_ran(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, dest, account = core.seller()
    assert user.legal_name is not None
    list_id = _load_list_naming(core, user.legal_name)
    before = _balances(core)

    trade_id = core.submit(user, dest)
    pipeline.process_trade(core.ctx, trade_id)

    assert (_status(core, trade_id), _reasons(core, trade_id)) == (S.REJECTED, ["sanctions_match"])
    with core.ctx.uow(readonly=True) as uow:
        # Risk keeps the standing in its own table (it used to be columns of `users`).
        standing = sanctions_standing.of(uow.conn, Subject.CUSTOMER, user.id)
        frozen = sanctions_customers.payouts_frozen(uow.conn, user.id)
    assert (standing.list_id, standing.strength, frozen) == (list_id, "strong", True)
    assert _balances(core) == before and core.rail_transfers(account) == []


def test_a_list_loaded_after_the_decision_is_consulted_just_before_the_transfer(core: Core) -> None:
    user, dest, account = core.seller()
    trade_id = core.submit(user, dest)
    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, trade_id)
    assert user.legal_name is not None
    _load_list_naming(core, user.legal_name)
    core.fund(1_000_000, "seed")

    with pytest.raises(PayoutHeld) as held:
        pipeline.process_trade(core.ctx, trade_id)

    assert held.value.why == "sanctions"
    assert core.rail_transfers(account) == [] and _status(core, trade_id) is S.PAYING_OUT
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        assert sanctions_customers.release_freeze(uow.conn, user.id, "reviewer@example.com", now)
        assert trade_service.resume_held_payouts(uow.conn, user.id, now) == 1
        uow.commit()
    pipeline.process_trade(core.ctx, trade_id)
    assert _status(core, trade_id) is S.PAID
    assert [t["amount"] for t in core.rail_transfers(account)] == [45500]


def test_a_removed_account_does_not_bring_a_tier_back_under_a_new_name(core: Core) -> None:
    user, dest, _ = core.seller()
    trade_service.remove_payout_destination(core.ctx, user, dest)

    outcome = identity_service.verify_identity(
        core.ctx, core.user(user.id), f"Choi Yuna {uuid.uuid4().hex[:6]}", BORN, PHONE
    )

    assert (outcome.kyc_tier, core.user(user.id).kyc_tier) == (0, 0)
