"""Payout use cases: send a credited trade's payout exactly once; fund the treasury.

Exactly once rests on three things: one payout row per trade (unique), one rail
idempotency key per payout, and asking the rail for the transfer's status whenever
an answer was lost, before sending again.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, select, update

from voucher_exchange.audit import service as audit
from voucher_exchange.clock import Clock
from voucher_exchange.context import Context
from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import payout_destinations, payouts
from voucher_exchange.db.schema import trades as trades_table
from voucher_exchange.errors import Conflict, ExternalUnavailable, InvalidInput, NotFound
from voucher_exchange.faults import crash_point
from voucher_exchange.jobs import queue
from voucher_exchange.ledger import models as postings
from voucher_exchange.ledger import repository as ledger
from voucher_exchange.ledger.models import Phase
from voucher_exchange.metrics import RAIL_LATENCY, timed
from voucher_exchange.payouts.models import PayoutStatus, TreasuryShort
from voucher_exchange.payouts.rail import RailTransfer, RailTransferStatus
from voucher_exchange.trades import repository as trades
from voucher_exchange.trades.models import TradeStatus, check_transition
from voucher_exchange.trades.service import PROCESS_TRADE

__all__ = ["PayoutStatus", "fund_treasury", "send", "treasury_available"]
WORKER = "worker"


def treasury_available(conn: Connection, currency: str) -> int:
    """Treasury money not yet promised to a payout in flight."""
    row = ledger.account_row(conn, postings.treasury(currency))
    if row is None:
        return 0
    return int(row.debits_posted) - int(row.credits_posted) - int(row.credits_pending)


def fund_treasury(
    conn: Connection, reference: str, currency: str, amount: int, now: Any, actor: str = "cli"
) -> bool:
    """Record money the operator put into the payout account; False if the reference was recorded before."""
    reference = reference.strip()
    if not reference or len(reference) > 100:
        raise InvalidInput("reference_invalid", "Give the bank's reference for this deposit.", "reference")
    if amount <= 0:
        raise InvalidInput("amount_invalid", "Fund a positive amount.", "amount")
    if ledger.find_transfer(conn, f"funding:{reference}") is not None:
        return False
    ledger.write(conn, postings.fund_treasury(reference, currency, amount), now)
    audit.record(conn, actor, "treasury.fund", reference, {"amount": amount, "currency": currency}, now)
    return True


def in_flight(conn: Connection) -> list[Any]:
    """Payouts created or sent but not yet answered by the rail, oldest first."""
    return list(
        conn.execute(
            select(payouts)
            .where(payouts.c.status.in_([PayoutStatus.CREATED.value, PayoutStatus.SENDING.value]))
            .order_by(payouts.c.created_at)
            .limit(500)
        )
    )


def failed_trades(conn: Connection) -> list[Any]:
    """Trades an operator must look at, with their payout's status when there is one, oldest first."""
    return list(
        conn.execute(
            select(trades_table, payouts.c.status.label("payout_status"))
            .outerjoin(payouts, payouts.c.trade_id == trades_table.c.id)
            .where(trades_table.c.status == TradeStatus.FAILED.value)
            .order_by(trades_table.c.updated_at)
            .limit(500)
        )
    )


def retry_failed(conn: Connection, clock: Clock, actor: str, trade_id: str) -> TradeStatus:
    """Put a failed trade back to work where it stopped; never past a step it has not done.

    Failed before its value was secured → it redeems again only if it had reached redemption
    (screening and verification are done); failed after → its one payout is sent (or asked
    about) again with the same rail key. A payout the bank refused is not retried blindly.
    """
    row = trades.get(conn, trade_id)
    if row is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    if row.status != TradeStatus.FAILED.value:
        raise Conflict("trade_not_failed", f"The trade is {row.status}; only failed trades are retried.")
    payout = conn.execute(select(payouts).where(payouts.c.trade_id == trade_id)).first()
    if payout is not None and payout.status == PayoutStatus.REJECTED.value:
        raise Conflict(
            "payout_refused_by_bank",
            "The bank refused this transfer. Contact the seller for a new account; "
            "retrying would fail again.",
        )
    failed_from = [
        e.from_status for e in trades.events(conn, trade_id) if e.to_status == TradeStatus.FAILED.value
    ]
    origin = failed_from[-1] if failed_from else None
    if row.secured_at is not None:
        target = TradeStatus.PAYING_OUT if payout is not None else TradeStatus.CREDITED
    elif origin == TradeStatus.REDEEMING.value:
        target = TradeStatus.REDEEMING
    else:
        raise Conflict(
            "retry_not_possible",
            "The trade failed before its voucher was verified; ask the seller to sell it again.",
        )
    now = clock.now()
    if target is TradeStatus.CREDITED:
        # Secured but no payout row yet: create it, as the pipeline's payout step would.
        target = TradeStatus.PAYING_OUT
        create_payout(conn, row, now)
    check_transition(TradeStatus.FAILED, target)
    if not trades.transition(
        conn, trade_id, TradeStatus.FAILED, target, now, actor, "retried by an operator"
    ):
        raise Conflict("trade_not_failed", "The trade moved on meanwhile.")
    queue.enqueue(conn, PROCESS_TRADE, trade_id, now)
    audit.record(conn, actor, "trade.retry", trade_id, {"resumes_at": target.value}, now)
    return target


def create_payout(conn: Connection, row: Any, now: Any) -> None:
    """The trade's one payout (the unique trade_id makes a second one impossible)."""
    payout_id = str(uuid.uuid4())
    insert_ignore(
        conn,
        payouts,
        {
            "id": payout_id,
            "trade_id": row.id,
            "user_id": row.user_id,
            "destination_id": row.payout_destination_id,
            "amount": int(row.payout),
            "currency": row.currency,
            "status": PayoutStatus.CREATED.value,
            "idempotency_key": f"vx-payout-{payout_id}",
            "created_at": now,
        },
        ["trade_id"],
    )


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
