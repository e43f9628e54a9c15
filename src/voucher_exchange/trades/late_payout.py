"""A payout the bank executed later than the trade's promise: the compensation goes as its own transfer.

The compensation is normally added to the payout as it is handed to the bank
(`pipeline._with_compensation`). A slow bank may accept a payout handed over in time and execute
it after the promise's `due_at` (the rail answers `pending` until then); that payout's amount was
fixed when it was handed over. So, in the transaction that records the execution: the promise is
marked compensated (once per trade, whichever path gets there first), the ledger moves the
compensation from the operator's expense account to the seller's payable, the timeline says so,
and a second payout (purpose `compensation`) to the same account is created with a job that
sends it. The job reserves, sends and records it like any payout; its idempotency key never
executes twice, whatever crashes in between.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from voucher_exchange.context import Context
from voucher_exchange.jobs import queue
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import PayoutHeld, PayoutOutcome, PayoutPurpose, PayoutStatus
from voucher_exchange.promises import service as promise_service
from voucher_exchange.promises.models import TradePromise
from voucher_exchange.trades import lifecycle, payout_gate
from voucher_exchange.trades.models import PAY_COMPENSATION, Trade, TradeStatus


def compensate_late_execution(
    conn: Connection, trade: Trade, outcome: PayoutOutcome, now: datetime, promise: TradePromise | None = None
) -> None:
    """After the trade's payout was executed: if the bank executed it after the promise was due,
    credit the compensation and queue its own transfer (nothing if it was compensated already).
    `promise`: the trade's promise if the caller has it (else read)."""
    payout = outcome.payout
    if payout.purpose is not PayoutPurpose.TRADE:
        return
    extra = promise_service.claim_compensation(
        conn, trade.id, trade.user_id, now, paid_at=_paid_at(outcome, now), known=promise
    )
    if extra is None or not extra.is_positive():
        return
    lifecycle.note(conn, trade.id, TradeStatus.PAID, now, lifecycle.LATE_COMPENSATION_NOTE)
    created = payout_service.create_compensation(conn, payout, extra, now)
    queue.enqueue(conn, PAY_COMPENSATION, created.id, now)


def _paid_at(outcome: PayoutOutcome, now: datetime) -> datetime:
    """When the bank executed the payout: as the rail says, but never before we handed it over nor
    after we learned it (another clock may be off); when we learned it if the rail does not say."""
    said = outcome.executed_at or now
    handed = outcome.payout.sent_at or said
    return min(max(said, handed), now)


def pay_compensation(ctx: Context, payout_id: str) -> None:
    """Job: reserve, send and record a compensation payout (each step safe to run again).

    Before it is first reserved it passes the same gate as a trade's payout (`payout_gate`: the
    seller's clearance, a fraud case's freeze) and waits out the banks' nightly window: a
    compensation is money to the seller like any other. Then it waits like a trade's payout: for
    funds (TreasuryShort), for a slow bank (RailPending), for an unreachable rail
    (ExternalUnavailable: the same key is asked about before it is sent again).
    """
    with ctx.uow() as uow:
        payout = payout_service.get(uow.conn, payout_id)
        if payout is None or payout.status in (PayoutStatus.EXECUTED, PayoutStatus.REJECTED):
            return
        held = None
        if payout.status is PayoutStatus.CREATED:
            held = payout_gate.before_sending(
                uow.conn,
                ctx.settings,
                payout.user_id,
                payout.destination_id,
                payout.ledger_reference,
                payout.amount,
                payout.id,
                ctx.clock.now(),
            )
        uow.commit()  # a freeze's hold on it is recorded
    if held is not None:
        raise PayoutHeld(payout.id, held)
    outcome = payout_service.send(ctx, payout_id)
    with ctx.uow() as uow:
        payout_service.record(uow.conn, outcome, ctx.clock.now())
        uow.commit()
