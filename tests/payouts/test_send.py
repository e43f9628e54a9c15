"""Sending a payout, called directly: exactly once against the sandbox rail, whatever is asked twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.core import Core
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import Payout, PayoutStatus, TreasuryShort
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import TradeStatus

pytestmark = pytest.mark.both_backends


def _credited_payout(core: Core, rail_behavior: str = "ok") -> tuple[Payout, str, str]:
    """A trade paid up to its payout (treasury empty, so the pipeline stops there)."""
    user, destination, account = core.seller(rail_behavior)
    trade_id = core.submit(user, destination)
    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, trade_id)
    with core.ctx.uow(readonly=True) as uow:
        payout = payout_service.for_trade(uow.conn, trade_id)
    assert payout is not None
    return payout, account, user.id


def _payable(core: Core, user_id: str) -> tuple[int, int]:
    with core.ctx.uow(readonly=True) as uow:
        found = {b["account"]: (b["balance"], b["pending"]) for b in ledger_service.balances(uow.conn)}
    return found[f"seller_payable:{user_id}"]


def test_send_then_record_pays_once_even_when_repeated(core: Core) -> None:
    payout, account, user_id = _credited_payout(core)
    core.fund(45500, "exact")

    first = payout_service.send(core.ctx, payout.id)
    assert first.executed is True
    assert first.payout.status is PayoutStatus.SENDING
    assert _payable(core, user_id) == (-45500, 45500)  # reserved, not yet posted
    with core.ctx.uow() as uow:
        payout_service.record(uow.conn, first, core.ctx.clock.now())
        payout_service.record(uow.conn, first, core.ctx.clock.now())
        uow.commit()

    again = payout_service.send(core.ctx, payout.id)
    assert again.executed is True and again.payout.status is PayoutStatus.EXECUTED
    assert [(t["amount"], t["status"]) for t in core.rail_transfers(account)] == [(45500, "executed")]
    assert _payable(core, user_id) == (0, 0)
    with core.ctx.uow(readonly=True) as uow:
        stored = payout_service.for_trade(uow.conn, payout.trade_id)
        assert payout_service.treasury_available(uow.conn, "KRW") == 0
    assert stored is not None and stored.status is PayoutStatus.EXECUTED
    assert stored.rail_reference is not None


def test_a_send_whose_answer_was_lost_asks_the_rail_instead_of_sending_again(core: Core) -> None:
    payout, account, _ = _credited_payout(core)
    core.fund(45500, "exact")
    lost = payout_service.send(core.ctx, payout.id)  # executed at the rail; nothing recorded here
    retried = payout_service.send(core.ctx, payout.id)
    assert (lost.executed, retried.executed) == (True, True)
    assert retried.rail_reference == lost.rail_reference
    assert len(core.rail_transfers(account)) == 1


def test_a_refused_payout_is_voided_and_the_money_owed_again(core: Core) -> None:
    payout, account, user_id = _credited_payout(core, rail_behavior="reject")
    core.fund(45500, "exact")
    outcome = payout_service.send(core.ctx, payout.id)
    assert outcome.executed is False
    with core.ctx.uow() as uow:
        payout_service.record(uow.conn, outcome, core.ctx.clock.now())
        uow.commit()
    assert core.rail_transfers(account) == []
    assert _payable(core, user_id) == (-45500, 0)
    with core.ctx.uow(readonly=True) as uow:
        stored = payout_service.for_trade(uow.conn, payout.trade_id)
        trade = trade_repo.get(uow.conn, payout.trade_id)
        assert payout_service.treasury_available(uow.conn, "KRW") == 45500
    assert stored is not None and stored.status is PayoutStatus.REJECTED
    # The payouts package records the payout only; the trade's status is the lifecycle's to change.
    assert trade is not None and trade.status is TradeStatus.PAYING_OUT


def test_the_treasury_check_refuses_one_unit_short(core: Core) -> None:
    payout, account, user_id = _credited_payout(core)
    core.fund(45499, "short")
    with pytest.raises(TreasuryShort):
        payout_service.send(core.ctx, payout.id)
    assert core.rail_transfers(account) == []
    assert _payable(core, user_id) == (-45500, 0)


def test_concurrent_senders_never_promise_more_than_the_treasury_holds(core: Core) -> None:
    payouts = [_credited_payout(core)[0] for _ in range(6)]
    core.fund(2 * 45500 + 100, "two-and-a-bit")

    def attempt(payout: Payout) -> str:
        try:
            return "sent" if payout_service.send(core.ctx, payout.id).executed else "refused"
        except TreasuryShort:
            return "short"

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = sorted(pool.map(attempt, payouts))

    assert results == ["sent", "sent", "short", "short", "short", "short"]
    with core.ctx.uow(readonly=True) as uow:
        assert payout_service.treasury_available(uow.conn, "KRW") == 100
        statuses = sorted(
            p.status.value for p in (payout_service.for_trade(uow.conn, x.trade_id) for x in payouts) if p
        )
    assert statuses == ["created", "created", "created", "created", "sending", "sending"]
