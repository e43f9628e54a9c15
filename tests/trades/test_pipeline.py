"""The trade pipeline called directly (no HTTP in front, no worker): a real database, sandboxes over HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.core import Core
from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.db.schema import jobs
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import PayoutStatus, TreasuryShort
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.trades import lifecycle, pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import DecisionStage, IllegalTransition, TradeMovedOn, TradeStatus

pytestmark = pytest.mark.both_backends

S = TradeStatus


def _balances(core: Core) -> dict[str, tuple[int, int]]:
    with core.ctx.uow(readonly=True) as uow:
        return {b["account"]: (b["balance"], b["pending"]) for b in ledger_service.balances(uow.conn)}


def _history(core: Core, trade_id: str) -> list[tuple[str | None, str]]:
    with core.ctx.uow(readonly=True) as uow:
        return [
            (e.from_status.value if e.from_status else None, e.to_status.value)
            for e in trade_repo.events(uow.conn, trade_id)
        ]


def test_one_call_takes_a_trade_from_received_to_paid(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)

    pipeline.process_trade(core.ctx, trade_id)

    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
        payout = payout_service.for_trade(uow.conn, trade_id)
        transfers = reconcile_service.trade_transfers(uow.conn, trade_id)
        report = reconcile_service.verify(uow.conn)
    assert trade is not None and trade.status is S.PAID
    assert trade.secured_at is not None and trade.redemption_ref == trade_id
    assert _history(core, trade_id) == [
        (None, "received"),
        ("received", "screening"),
        ("screening", "verifying"),
        ("verifying", "redeeming"),
        ("redeeming", "credited"),
        ("credited", "paying_out"),
        ("paying_out", "paid"),
    ]
    assert payout is not None and payout.status is PayoutStatus.EXECUTED
    assert [(t.reference, t.amount.amount, t.phase.value) for t in transfers] == [
        (f"trade:{trade_id}", 45500, "single"),
        (f"trade:{trade_id}", 4500, "single"),
        (f"payout:{payout.id}", 45500, "pending"),
        (f"payout:{payout.id}", 45500, "post"),
    ]
    assert _balances(core) == {
        "inventory:cultureland": (50000, 0),
        "margin": (-4500, 0),
        "operator_capital": (-1_000_000, 0),
        f"seller_payable:{user.id}": (0, 0),
        "treasury": (954_500, 0),
    }
    assert [(t["amount"], t["status"]) for t in core.rail_transfers(account)] == [(45500, "executed")]
    assert report.violations == []


def test_running_a_finished_trade_again_moves_nothing(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)
    pipeline.process_trade(core.ctx, trade_id)
    before = _balances(core)

    pipeline.process_trade(core.ctx, trade_id)

    assert _balances(core) == before
    assert len(core.rail_transfers(account)) == 1
    assert _history(core, trade_id)[-1] == ("paying_out", "paid")


def test_an_empty_treasury_stops_the_payout_before_anything_is_reserved(core: Core) -> None:
    core.fund(45_499, "almost")
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)

    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, trade_id)

    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
        payout = payout_service.for_trade(uow.conn, trade_id)
    assert trade is not None and trade.status is S.PAYING_OUT
    assert payout is not None and payout.status is PayoutStatus.CREATED
    assert payout.pending_transfer_id is None
    assert _balances(core)["treasury"] == (45_499, 0)
    assert core.rail_transfers(account) == []

    core.fund(1, "topped-up")
    pipeline.process_trade(core.ctx, trade_id)
    assert _history(core, trade_id)[-1] == ("paying_out", "paid")
    assert _balances(core)["treasury"] == (0, 0)


def test_a_lifecycle_step_that_lost_the_race_raises_and_changes_nothing(core: Core) -> None:
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    with core.ctx.uow() as uow:
        lifecycle.start_screening(uow.conn, trade_id, core.ctx.clock.now())
        uow.commit()
    with core.ctx.uow() as uow, pytest.raises(TradeMovedOn):
        lifecycle.start_screening(uow.conn, trade_id, core.ctx.clock.now())
    with core.ctx.uow() as uow, pytest.raises(TradeMovedOn):
        lifecycle.mark_paid(uow.conn, trade_id, core.ctx.clock.now())
    with core.ctx.uow() as uow, pytest.raises(IllegalTransition):
        lifecycle.reject(uow.conn, trade_id, S.PAID, core.ctx.clock.now(), "not from paid")
    assert _history(core, trade_id) == [(None, "received"), ("received", "screening")]


def test_the_decisions_a_change_rests_on_are_stored_with_it_in_order_and_not_when_it_lost(
    core: Core,
) -> None:
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    live = trade_repo.Decided(DecisionStage.RISK, "approve", [], "v-live", {"score": 1}, "risk-engine")
    shadow = trade_repo.Decided(DecisionStage.SHADOW, "review", ["velocity"], "v-shadow", {}, "risk-engine")
    with core.ctx.uow() as uow:
        lifecycle.start_screening(uow.conn, trade_id, core.ctx.clock.now())
        uow.commit()
    with core.ctx.uow() as uow, pytest.raises(TradeMovedOn):  # not screening any more: nothing stored
        lifecycle.approve_for_redemption(uow.conn, trade_id, core.ctx.clock.now(), {}, (live, shadow))
    with core.ctx.uow() as uow:
        assert trade_repo.all_decisions(uow.conn, trade_id) == []
        lifecycle.start_verifying(uow.conn, trade_id, core.ctx.clock.now(), (live, shadow))
        uow.commit()
    with core.ctx.uow(readonly=True) as uow:
        stored = trade_repo.all_decisions(uow.conn, trade_id)
    assert [(d.stage, d.outcome, d.reasons, d.ruleset_version, d.evidence) for d in stored] == [
        (DecisionStage.RISK, "approve", [], "v-live", {"score": 1}),
        (DecisionStage.SHADOW, "review", ["velocity"], "v-shadow", {}),
    ]
    assert stored[0].id < stored[1].id
    assert _history(core, trade_id)[-1] == ("screening", "verifying")


def test_giving_up_fails_a_working_trade_once_and_leaves_a_finished_one(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    stuck = core.submit(user, destination)
    done = core.submit(user, destination)
    pipeline.process_trade(core.ctx, done)
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        lifecycle.give_up(uow.conn, stuck, now, 6)
        lifecycle.give_up(uow.conn, stuck, now, 6)
        lifecycle.give_up(uow.conn, done, now, 6)
        uow.commit()
    assert _history(core, stuck)[-1] == ("received", "failed")
    assert len([e for e in _history(core, stuck) if e[1] == "failed"]) == 1
    assert _history(core, done)[-1] == ("paying_out", "paid")


def test_submitting_queues_exactly_one_pipeline_job(core: Core) -> None:
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    with core.ctx.uow(readonly=True) as uow:
        queued = uow.conn.execute(select(jobs.c.kind).where(jobs.c.ref == trade_id)).scalars().all()
    assert queued == ["trade.process"]


def test_a_brand_suspended_after_screening_is_refused_at_verification_and_nothing_moves(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)
    with core.ctx.uow(readonly=True) as uow:
        screened = pipeline.run_stage_batch(
            core.ctx,
            pipeline.STAGES[S.RECEIVED],
            [pipeline.Handoff(t) for t in trade_repo.get_many(uow.conn, [trade_id])],
            None,
            {},
        )
    assert [h.trade.status for h in screened] == [S.VERIFYING]
    balances = _balances(core)
    with core.ctx.uow() as uow:  # the issuer turns out unsafe while the trade is being verified
        catalog_service.set_status(uow.conn, "cultureland", BrandStatus.SUSPENDED, core.ctx.clock.now())
        uow.commit()

    pipeline.process_trade(core.ctx, trade_id)

    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
        decision = trade_repo.latest_decision(uow.conn, trade_id)
        transfers = reconcile_service.trade_transfers(uow.conn, trade_id)
        payout = payout_service.for_trade(uow.conn, trade_id)
    assert trade is not None and trade.status is S.REJECTED
    assert decision is not None and (decision.stage, decision.reasons) == (
        DecisionStage.ISSUER,
        ["brand_suspended"],
    )
    assert _history(core, trade_id)[-1] == ("verifying", "rejected")
    # Nothing moved: no transfer, no payout, the ledger as it was, nothing sent, the voucher unredeemed.
    assert (transfers, payout) == ([], None)
    assert _balances(core) == balances
    assert core.rail_transfers(account) == []
    assert (trade.secured_at, trade.redemption_ref) == (None, None)
    secret = core.ctx.vault.decrypt_json(trade.voucher_enc, trade.id)
    voucher = core.ctx.issuer.lookup("cultureland", secret["code"], secret.get("pin"))
    assert (voucher.state.value, voucher.balance, voucher.redeemed_by) == ("active", 50000, None)
