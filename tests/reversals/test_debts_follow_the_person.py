"""Issue 24, "debts follow the person": the two ways a seller walked away from a receivable are
closed (both databases).

1. After a chargeback left Choi owing 45,500, a new account with the same verified legal name
   and birth date was paid in full. Now its payout settles the debt first.
2. A seller deleted the account right after a payout, the chargeback was booked against the
   erased account, and signing up again with the same e-mail left nothing owed. Now erasure is
   refused inside the liability window (the login can be closed instead), and the new account
   with that e-mail settles the debt.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from tests.support.core import Core
from tests.support.staff import verify_identity
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import IdentityStatus, Role
from voucher_exchange.db.schema import api_tokens, audit_log, ledger_transfers, person_links, users
from voucher_exchange.errors import Conflict, Unauthorized
from voucher_exchange.identity import links
from voucher_exchange.identity import service as identity_service
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.ports.issuer import Chargeback as Reported
from voucher_exchange.privacy import service as privacy
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.reversals import repository as chargeback_repo
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.reversals.models import ChargebackOutcome
from voucher_exchange.review import service as review_service
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import TradeStatus

pytestmark = pytest.mark.both_backends

PASSWORD = "correct-horse-battery"
CHOI = "Choi Minho"
BORN = date(1988, 3, 14)


def _balances(core: Core) -> dict[str, tuple[int, int]]:
    with core.ctx.uow(readonly=True) as uow:
        return {b["account"]: (b["balance"], b["pending"]) for b in ledger_service.balances(uow.conn)}


def _paid_trade(core: Core, user_id: str, destination: str) -> str:
    trade_id = core.submit(core.user(user_id), destination)
    pipeline.process_trade(core.ctx, trade_id)
    assert _trade(core, trade_id).status is TradeStatus.PAID
    return trade_id


def _trade(core: Core, trade_id: str) -> Any:
    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
    assert trade is not None
    return trade


def _chargeback(core: Core, seq: int, trade_id: str) -> None:
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        chargeback_repo.add(uow.conn, Reported(seq, trade_id, 50000, "KRW", "stolen", now), now)
        done = reversal_service.apply_pending(uow.conn, now, core.ctx.settings.liability_window_days)
        uow.commit()
    assert done == [(trade_id, ChargebackOutcome.REVERSED)]


def _owes(core: Core, user_id: str) -> tuple[int, int]:
    """(own, linked) as GET /me reports them."""
    with core.ctx.uow(readonly=True) as uow:
        owes = reversal_service.owed_by_person(uow.conn, core.ctx.vault, user_id, "KRW")
    return owes.own.amount, owes.linked.amount


def _clean(core: Core) -> None:
    with core.ctx.uow(readonly=True) as uow:
        assert reconcile_service.verify(uow.conn).violations == []


def test_a_new_account_with_the_same_identity_settles_the_debt_before_it_is_paid(core: Core) -> None:
    core.fund(1_000_000, "seed")
    choi, choi_dest, choi_account = core.seller(name=CHOI, birth_date=BORN)
    first = _paid_trade(core, choi.id, choi_dest)
    _chargeback(core, 1, first)
    assert _balances(core)[f"seller_receivable:{choi.id}"] == (45500, 0)

    # An unrelated person of the same name, born on another day, is not affected.
    namesake, namesake_dest, namesake_account = core.seller(name=CHOI, birth_date=date(1991, 7, 2))
    assert _owes(core, namesake.id) == (0, 0)
    _paid_trade(core, namesake.id, namesake_dest)
    assert [t["amount"] for t in core.rail_transfers(namesake_account)] == [45500]
    assert _balances(core)[f"seller_receivable:{choi.id}"] == (45500, 0)

    # The escape: a new account, the same verified legal name and birth date, another bank account.
    again, again_dest, again_account = core.seller(name=" choi  MINHO ", birth_date=BORN)
    assert _owes(core, again.id) == (0, 45500)  # GET /me: receivable 45,500, all of it linked
    treasury = _balances(core)["treasury"]
    sold = core.submit(again, again_dest)
    pipeline.process_trade(core.ctx, sold)

    # Its whole payout (45,500) settled Choi's debt: nothing reached the bank.
    assert core.rail_transfers(again_account) == []
    assert _trade(core, sold).status is TradeStatus.PAID
    after = _balances(core)
    assert after[f"seller_receivable:{choi.id}"] == (0, 0)
    assert after[f"seller_payable:{again.id}"] == (0, 0)
    assert after["treasury"] == treasury
    assert _owes(core, again.id) == (0, 0)
    with core.ctx.uow(readonly=True) as uow:
        netted = uow.conn.execute(
            select(ledger_transfers.c.amount).where(
                ledger_transfers.c.key == f"trade:{sold}:{choi.id}:netting"
            )
        ).scalar_one()
        audited = uow.conn.execute(
            select(audit_log.c.details).where(
                (audit_log.c.action == "receivable.netted_linked") & (audit_log.c.subject == sold)
            )
        ).scalar_one()
        notes = [e.note for e in trade_repo.events(uow.conn, sold)]
    assert netted == 45500
    assert audited == {"seller": again.id, "owed_by": choi.id, "amount": {"amount": 45500, "currency": "KRW"}}
    assert "settled what another account of the same person owed after a reversal" in notes
    assert len(core.rail_transfers(choi_account)) == 1  # Choi's own first payout, nothing since
    _clean(core)

    # The debt settled, the new account is paid normally.
    _paid_trade(core, again.id, again_dest)
    assert [t["amount"] for t in core.rail_transfers(again_account)] == [45500]
    _clean(core)


def test_another_login_confirmed_for_the_same_bank_account_settles_the_debt_first(core: Core) -> None:
    core.fund(1_000_000, "seed")
    choi, choi_dest, choi_account = core.seller(name=CHOI, birth_date=BORN)
    _chargeback(core, 1, _paid_trade(core, choi.id, choi_dest))
    # Another identity on paper (born on another day, its own e-mail), and Choi's bank account,
    # which the bank confirms it holds: one person's account, two logins.
    other, _, other_account = core.seller(name=CHOI, birth_date=date(1991, 7, 2))
    assert _owes(core, other.id) == (0, 0)
    shared = identity_service.add_payout_destination(core.ctx, core.user(other.id), "004", choi_account, CHOI)
    assert shared.status == "verified"
    with core.ctx.uow(readonly=True) as uow:
        assert links.linked_accounts(uow.conn, core.ctx.vault, core.user(other.id)) == [choi.id]
        assert links.linked_accounts(uow.conn, core.ctx.vault, core.user(choi.id)) == [other.id]
        # With no fingerprint of its own to compare (nothing verified), the bank account still ties.
        unverified = replace(core.user(other.id), identity_status=IdentityStatus.NONE, email_verified=False)
        assert links.linked_accounts(uow.conn, core.ctx.vault, unverified) == [choi.id]

    sold = core.submit(core.user(other.id), shared.id)
    pipeline.process_trade(core.ctx, sold)
    # A bank account shared by two logins is held for a person to look at; they approve it.
    assert _trade(core, sold).status is TradeStatus.IN_REVIEW
    with core.ctx.uow() as uow:
        reviewer = account_service.create_staff(
            uow.conn, "rev@example.com", PASSWORD, Role.REVIEWER, core.ctx.clock.now()
        )
        uow.commit()
    reviewer = verify_identity(core.ctx, reviewer)
    with core.ctx.uow() as uow:
        review_service.decide(uow.conn, core.ctx.clock, reviewer, sold, "approve", "the same person")
        uow.commit()
    pipeline.process_trade(core.ctx, sold)

    assert _trade(core, sold).status is TradeStatus.PAID
    assert len(core.rail_transfers(choi_account)) == 1  # Choi's own first payout only
    assert core.rail_transfers(other_account) == []
    assert _balances(core)[f"seller_receivable:{choi.id}"] == (0, 0)
    _clean(core)


def test_a_payout_larger_than_the_linked_debt_pays_the_rest(core: Core) -> None:
    core.fund(1_000_000, "seed")
    choi, choi_dest, _ = core.seller(name=CHOI, birth_date=BORN)
    _chargeback(core, 1, _paid_trade(core, choi.id, choi_dest))
    again, again_dest, again_account = core.seller(name=CHOI, birth_date=BORN)

    sold = core.submit(again, again_dest, face_value=100000)
    pipeline.process_trade(core.ctx, sold)

    assert [t["amount"] for t in core.rail_transfers(again_account)] == [91000 - 45500]
    assert _balances(core)[f"seller_receivable:{choi.id}"] == (0, 0)
    _clean(core)


def _row(core: Core, user_id: str) -> Any:
    with core.ctx.uow(readonly=True) as uow:
        return uow.conn.execute(select(users).where(users.c.id == user_id)).one()


def _count(core: Core, table: Any, *where: Any) -> int:
    with core.ctx.uow(readonly=True) as uow:
        return int(uow.conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_an_account_inside_its_liability_window_cannot_be_erased_and_the_debt_finds_the_same_email(
    core: Core,
) -> None:
    core.fund(1_000_000, "seed")
    email = "park.seoyeon@example.com"
    park, park_dest, _ = core.seller(name="Park Seoyeon", birth_date=date(1995, 1, 9), email=email)
    paid = _paid_trade(core, park.id, park_dest)
    paid_at = core.ctx.clock.now()

    # Right after the payout, deleting the account is refused, saying from when it is possible.
    row, balances = _row(core, park.id), _balances(core)
    tokens = _count(core, api_tokens, api_tokens.c.user_id == park.id)
    with pytest.raises(Conflict) as refused:
        privacy.erase_account(core.ctx, core.user(park.id), PASSWORD)
    window = core.ctx.settings.liability_window_days
    possible_from = (paid_at + timedelta(days=window)).date() + timedelta(days=1)
    assert refused.value.code == "liability_window_open"
    assert possible_from.isoformat() in refused.value.message
    assert _row(core, park.id) == row
    assert _balances(core) == balances
    assert _count(core, api_tokens, api_tokens.c.user_id == park.id) == tokens
    assert _count(core, audit_log, audit_log.c.action == "account.erased") == 0

    # The login is closed instead: nobody can sign in, the record stays.
    privacy.close_login(core.ctx, core.user(park.id), PASSWORD)
    closed = _row(core, park.id)
    assert (closed.email, closed.password_hash) == (f"closed-{park.id}@closed.invalid", "!erased")
    assert closed.closed_at is not None and closed.deleted_at is None
    assert closed.legal_name == "Park Seoyeon"
    assert _count(core, api_tokens, api_tokens.c.user_id == park.id) == 0
    assert _count(core, person_links, person_links.c.user_id == park.id) == 2  # identity and e-mail
    with pytest.raises(Unauthorized):
        account_service.log_in(core.ctx, email, PASSWORD)
    assert _balances(core) == balances

    # The chargeback is booked against the closed account.
    _chargeback(core, 1, paid)
    assert _balances(core)[f"seller_receivable:{park.id}"] == (45500, 0)

    # Signing up again with the same e-mail: once the address is confirmed, the debt follows.
    with core.ctx.uow() as uow:
        signed = account_service.sign_up(uow.conn, email, PASSWORD, core.ctx.clock.now())
        uow.commit()
    assert _owes(core, signed.user.id) == (0, 0)  # an address typed, not yet proved, ties nobody
    with core.ctx.uow() as uow:
        assert account_repo.mark_verified(uow.conn, signed.user.id, email, core.ctx.clock.now())
        uow.commit()
    assert _owes(core, signed.user.id) == (0, 45500)

    # The new account verifies its identity and sells: its payout settles the debt first.
    new_name = "Park Seoyeon"
    identity_service.verify_identity(
        core.ctx, core.user(signed.user.id), new_name, date(1995, 1, 9), "010-1234-5678"
    )
    account = "778899001122"
    core.sandbox("/rail/accounts", {"bank_code": "004", "account_number": account, "holder_name": new_name})
    dest = identity_service.add_payout_destination(
        core.ctx, core.user(signed.user.id), "004", account, new_name
    )
    sold = core.submit(core.user(signed.user.id), dest.id)
    pipeline.process_trade(core.ctx, sold)
    assert core.rail_transfers(account) == []
    assert _balances(core)[f"seller_receivable:{park.id}"] == (0, 0)
    _clean(core)


def test_an_open_receivable_refuses_erasure_and_after_the_window_a_settled_account_is_erased(
    core: Core,
) -> None:
    core.fund(1_000_000, "seed")
    lee, lee_dest, _ = core.seller(name="Lee Jiwoo", birth_date=date(1993, 11, 30))
    _chargeback(core, 1, _paid_trade(core, lee.id, lee_dest))
    balances = _balances(core)
    with pytest.raises(Conflict) as refused:
        privacy.erase_account(core.ctx, core.user(lee.id), PASSWORD)
    assert refused.value.code == "receivable_open"
    assert _row(core, lee.id).deleted_at is None
    assert _balances(core) == balances

    kim, kim_dest, _ = core.seller(name="Kim Doyun", birth_date=date(1990, 2, 3))
    _paid_trade(core, kim.id, kim_dest)
    balances = _balances(core)
    with pytest.raises(Conflict) as inside:
        privacy.erase_account(core.ctx, core.user(kim.id), PASSWORD)
    assert inside.value.code == "liability_window_open"
    assert _row(core, kim.id).deleted_at is None
    assert _balances(core) == balances
    core.ctx.clock.offset += timedelta(days=core.ctx.settings.liability_window_days + 1)  # type: ignore[attr-defined]
    privacy.erase_account(core.ctx, core.user(kim.id), PASSWORD)
    assert _row(core, kim.id).email == f"erased-{kim.id}@deleted.invalid"


def test_identities_verified_before_links_were_kept_are_linked_by_the_backfill(core: Core) -> None:
    old, _, _ = core.seller(name=CHOI, birth_date=BORN)
    with core.ctx.uow() as uow:  # as a database migrated to 0026 holds it: checks, no fingerprints
        uow.conn.execute(delete(person_links))
        uow.commit()
    new, _, _ = core.seller(name=CHOI, birth_date=BORN)
    with core.ctx.uow() as uow:
        uow.conn.execute(delete(person_links).where(person_links.c.user_id == new.id))
        uow.commit()
    with core.ctx.uow(readonly=True) as uow:
        assert links.linked_accounts(uow.conn, core.ctx.vault, core.user(new.id)) == []

    assert links.link_past_identities(core.ctx) == 2
    assert links.link_past_identities(core.ctx) == 2  # again: nothing doubles
    with core.ctx.uow(readonly=True) as uow:
        assert links.linked_accounts(uow.conn, core.ctx.vault, core.user(new.id)) == [old.id]
        assert _count(core, person_links) == 2


def test_a_login_is_not_closed_while_a_trade_is_open(core: Core) -> None:
    seller, destination, _ = core.seller()
    core.submit(seller, destination)  # received, not processed yet
    row, links_before = _row(core, seller.id), _count(core, person_links)
    with pytest.raises(Conflict) as refused:
        privacy.close_login(core.ctx, core.user(seller.id), PASSWORD)
    assert refused.value.code == "money_in_flight"
    assert _row(core, seller.id) == row
    assert _count(core, person_links) == links_before
    assert _count(core, audit_log, audit_log.c.action == "account.login_closed") == 0
