"""Reversal guards, called directly: once per trade, not before the payout settled, bounded by the window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.core import Core
from voucher_exchange.accounts.models import User
from voucher_exchange.faults import SimulatedCrash, crash_once_at
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts.models import TreasuryShort
from voucher_exchange.ports.issuer import Chargeback as Reported
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.reversals import repository as chargeback_repo
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.reversals.models import ChargebackOutcome
from voucher_exchange.risk import sanctions_customers, sanctions_list
from voucher_exchange.trades import lifecycle, pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TradeStatus

pytestmark = pytest.mark.both_backends


def _balances(core: Core) -> dict[str, tuple[int, int]]:
    with core.ctx.uow(readonly=True) as uow:
        return {b["account"]: (b["balance"], b["pending"]) for b in ledger_service.balances(uow.conn)}


def _report(seq: int, trade_id: str, reported_at_offset: timedelta, core: Core) -> Reported:
    return Reported(seq, trade_id, 50000, "KRW", "stolen", core.ctx.clock.now() + reported_at_offset)


def _apply(core: Core, *reports: Reported) -> list[tuple[str, ChargebackOutcome]]:
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        for report in reports:
            chargeback_repo.add(uow.conn, report, now)
        done = reversal_service.apply_pending(uow.conn, now, core.ctx.settings.liability_window_days)
        uow.commit()
    return done


def _status(core: Core, trade_id: str) -> TradeStatus:
    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
    assert trade is not None
    return trade.status


def test_a_second_report_for_a_reversed_trade_moves_nothing(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    pipeline.process_trade(core.ctx, trade_id)

    assert _apply(core, _report(1, trade_id, timedelta(0), core)) == [(trade_id, ChargebackOutcome.REVERSED)]
    after_first = _balances(core)
    assert after_first[f"seller_receivable:{user.id}"] == (45500, 0)
    assert after_first["reversals"] == (4500, 0)
    assert after_first["inventory:cultureland"] == (0, 0)

    assert _apply(core, _report(2, trade_id, timedelta(0), core)) == [(trade_id, ChargebackOutcome.DUPLICATE)]
    assert _apply(core, _report(1, trade_id, timedelta(0), core)) == []  # the same report, kept once
    assert _balances(core) == after_first
    with core.ctx.uow(readonly=True) as uow:
        assert reconcile_service.verify(uow.conn).violations == []


def test_a_trade_whose_payout_has_not_settled_is_reversed_only_once_it_has(core: Core) -> None:
    core.fund(1000, "too-little")
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, trade_id)
    assert _status(core, trade_id) is TradeStatus.PAYING_OUT

    assert _apply(core, _report(1, trade_id, timedelta(0), core)) == []
    assert _status(core, trade_id) is TradeStatus.PAYING_OUT
    assert f"seller_receivable:{user.id}" not in _balances(core)

    core.fund(1_000_000, "topped-up")
    pipeline.process_trade(core.ctx, trade_id)
    assert _apply(core) == [(trade_id, ChargebackOutcome.REVERSED)]
    assert _status(core, trade_id) is TradeStatus.REVERSED


def test_after_the_liability_window_the_loss_is_the_exchanges(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    pipeline.process_trade(core.ctx, trade_id)
    late = timedelta(days=core.ctx.settings.liability_window_days, minutes=1)

    assert _apply(core, _report(1, trade_id, late, core)) == [(trade_id, ChargebackOutcome.LOSS)]
    balances = _balances(core)
    assert balances["losses"] == (50000, 0)
    assert f"seller_receivable:{user.id}" not in balances
    assert balances["inventory:cultureland"] == (0, 0)
    assert _status(core, trade_id) is TradeStatus.REVERSED


def test_a_report_for_an_unknown_redemption_is_kept_for_an_operator(core: Core) -> None:
    before = _balances(core)
    assert _apply(core, _report(1, "not-a-trade", timedelta(0), core)) == [
        ("not-a-trade", ChargebackOutcome.UNKNOWN_TRADE)
    ]
    assert _balances(core) == before


def _hold_payouts(core: Core, user_id: str) -> None:
    """Freeze the seller's payouts, as a strong hit on a newly loaded sanctions list would."""
    sdn = '9001,"Nobody Else","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1 Jan 1950."\n'
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        sanctions_list.load(uow.conn, sdn, None, "test-sdn.csv", now)
        list_id = sanctions_list.current_list_id(uow.conn)
        assert list_id is not None
        assert sanctions_customers.freeze_payouts(uow.conn, user_id, list_id, 9001, {"score": 1.0}, now)
        uow.commit()


def _release_payouts(core: Core, user_id: str) -> None:
    with core.ctx.uow() as uow:
        assert sanctions_customers.release_freeze(
            uow.conn, user_id, "reviewer@example.com", core.ctx.clock.now()
        )
        uow.commit()


def _credited_then_failed(core: Core, user: User, destination: str) -> str:
    """A trade secured and credited whose payout was held, on which the worker then gave up."""
    trade_id = core.submit(user, destination)
    # The worker dies just after the issuer redeemed; the hold comes before it resumes.
    with pytest.raises(SimulatedCrash), crash_once_at("after_issuer_redeem"):
        pipeline.process_trade(core.ctx, trade_id)
    assert _status(core, trade_id) is TradeStatus.REDEEMING
    _hold_payouts(core, user.id)
    pipeline.process_trade(core.ctx, trade_id)
    assert _status(core, trade_id) is TradeStatus.CREDITED
    with core.ctx.uow() as uow:
        lifecycle.give_up(uow.conn, trade_id, core.ctx.clock.now(), 8)
        uow.commit()
    assert _status(core, trade_id) is TradeStatus.FAILED
    return trade_id


def test_a_retried_trade_that_failed_before_its_payout_first_settles_what_the_seller_owes(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, account = core.seller()
    first = core.submit(user, destination)
    pipeline.process_trade(core.ctx, first)
    assert _apply(core, _report(1, first, timedelta(0), core)) == [(first, ChargebackOutcome.REVERSED)]
    assert _balances(core)[f"seller_receivable:{user.id}"] == (45500, 0)
    second = _credited_then_failed(core, user, destination)

    # The operator retries once the hold is lifted: the payout is opened the usual way, so what
    # the seller owes after the reversal is settled first and nothing more is sent.
    _release_payouts(core, user.id)
    assert trade_service.retry_failed_trade(core.ctx, "ops@example.com", second) is TradeStatus.CREDITED
    pipeline.process_trade(core.ctx, second)
    assert _status(core, second) is TradeStatus.PAID
    balances = _balances(core)
    assert balances[f"seller_receivable:{user.id}"] == (0, 0)
    assert balances[f"seller_payable:{user.id}"] == (0, 0)
    assert [t["amount"] for t in core.rail_transfers(account)] == [45500]
    with core.ctx.uow(readonly=True) as uow:
        assert reconcile_service.verify(uow.conn).violations == []


def test_a_retried_trade_whose_seller_may_not_be_paid_yet_waits_credited(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, account = core.seller()
    trade_id = _credited_then_failed(core, user, destination)

    # Retried while the hold still stands: the payout step asks first, and nothing is created or sent.
    assert trade_service.retry_failed_trade(core.ctx, "ops@example.com", trade_id) is TradeStatus.CREDITED
    pipeline.process_trade(core.ctx, trade_id)
    assert _status(core, trade_id) is TradeStatus.CREDITED
    with core.ctx.uow(readonly=True) as uow:
        assert payout_repo.for_trade(uow.conn, trade_id) is None
    assert core.rail_transfers(account) == []
    assert _balances(core)[f"seller_payable:{user.id}"] == (-45500, 0)
