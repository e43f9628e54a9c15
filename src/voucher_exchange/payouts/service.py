"""Payout use cases: send a credited trade's payout exactly once; fund the treasury.

Exactly once rests on three things: one payout row per trade (unique), one rail
idempotency key per payout, and asking the rail for the transfer's status whenever
an answer was lost, before sending again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from voucher_exchange.context import Context
from voucher_exchange.db.schema import payout_destinations, payouts
from voucher_exchange.errors import ExternalUnavailable
from voucher_exchange.faults import crash_point
from voucher_exchange.ledger import models as postings
from voucher_exchange.ledger import repository as ledger
from voucher_exchange.ledger.models import Phase
from voucher_exchange.metrics import RAIL_LATENCY, timed
from voucher_exchange.payouts.models import PayoutStatus, TreasuryShort
from voucher_exchange.payouts.rail import RailTransfer, RailTransferStatus
from voucher_exchange.trades import repository as trades
from voucher_exchange.trades.models import TradeStatus

__all__ = ["PayoutStatus", "fund_treasury", "send", "treasury_available"]
WORKER = "worker"


def treasury_available(conn: Connection, currency: str) -> int:
    """Treasury money not yet promised to a payout in flight."""
    row = ledger.account_row(conn, postings.treasury(currency))
    if row is None:
        return 0
    return int(row.debits_posted) - int(row.credits_posted) - int(row.credits_pending)


def fund_treasury(conn: Connection, reference: str, currency: str, amount: int, now: Any) -> None:
    """Record money the operator put into the payout account (idempotent on reference)."""
    ledger.write(conn, postings.fund_treasury(reference, currency, amount), now)


def _reserve(ctx: Context, trade: Any) -> Any:
    """Reserve the payout in the ledger (pending) and mark it sending, in one transaction."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        conn = uow.conn
        payout = conn.execute(select(payouts).where(payouts.c.trade_id == trade.id)).one()
        if payout.status == PayoutStatus.CREATED.value:
            if treasury_available(conn, payout.currency) < int(payout.amount):
                raise TreasuryShort(payout.currency)
            pending_id = ledger.write(
                conn,
                postings.reserve_payout(payout.id, payout.user_id, payout.currency, int(payout.amount)),
                now,
                trade_id=trade.id,
                payout_id=payout.id,
            )
            conn.execute(
                update(payouts)
                .where((payouts.c.id == payout.id) & (payouts.c.status == PayoutStatus.CREATED.value))
                .values(status=PayoutStatus.SENDING.value, pending_transfer_id=pending_id, sent_at=now)
            )
            payout = conn.execute(select(payouts).where(payouts.c.id == payout.id)).one()
        destination = conn.execute(
            select(payout_destinations).where(payout_destinations.c.id == payout.destination_id)
        ).one()
        uow.commit()
    return payout, destination


def _transfer_or_learn(ctx: Context, payout: Any, destination: Any) -> RailTransfer:
    """Send; if the answer was lost, ask the rail before sending again with the same key."""
    account_number = ctx.vault.decrypt(destination.account_number_enc, destination.id.encode()).decode()
    try:
        with timed(RAIL_LATENCY, "transfer"):
            return ctx.rail.transfer(
                payout.idempotency_key,
                destination.bank_code,
                account_number,
                destination.holder_name,
                int(payout.amount),
                payout.currency,
            )
    except ExternalUnavailable:
        with timed(RAIL_LATENCY, "transfer_status"):
            known = ctx.rail.transfer_status(payout.idempotency_key)
        if known.status is RailTransferStatus.NOT_FOUND:
            raise
        return known


def send(ctx: Context, trade: Any) -> None:
    """Pay a trade in `paying_out`, then record the rail's answer."""
    payout, destination = _reserve(ctx, trade)
    if payout.status in (PayoutStatus.EXECUTED.value, PayoutStatus.REJECTED.value):
        _record(ctx, trade, payout, None)
        return
    crash_point("before_rail_transfer")
    result = _transfer_or_learn(ctx, payout, destination)
    crash_point("after_rail_transfer")
    _record(ctx, trade, payout, result)


def _record(ctx: Context, trade: Any, payout: Any, result: RailTransfer | None) -> None:
    now = ctx.clock.now()
    executed = (
        (result.status is RailTransferStatus.EXECUTED)
        if result
        else payout.status == PayoutStatus.EXECUTED.value
    )
    with ctx.uow() as uow:
        conn = uow.conn
        phase = Phase.POST if executed else Phase.VOID
        ledger.settle(
            conn,
            int(payout.pending_transfer_id),
            phase,
            now,
            "rail executed" if executed else "rail rejected",
        )
        conn.execute(
            update(payouts)
            .where((payouts.c.id == payout.id) & (payouts.c.status == PayoutStatus.SENDING.value))
            .values(
                status=(PayoutStatus.EXECUTED if executed else PayoutStatus.REJECTED).value,
                rail_reference=result.rail_reference if result else payout.rail_reference,
                settled_at=now,
            )
        )
        if executed:
            moved = trades.transition(conn, trade.id, TradeStatus.PAYING_OUT, TradeStatus.PAID, now, WORKER)
        else:
            moved = trades.transition(
                conn,
                trade.id,
                TradeStatus.PAYING_OUT,
                TradeStatus.FAILED,
                now,
                WORKER,
                "the bank refused the transfer; an operator must contact the seller",
            )
        if moved:
            uow.commit()
