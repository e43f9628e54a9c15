"""Payout use cases: create a payout, send it exactly once, record the rail's answer; fund the treasury.

Exactly once rests on three things: one payout row per trade (unique), one rail
idempotency key per payout, and asking the rail for the transfer's status whenever
an answer was lost, before sending again. This package knows nothing of trades: the
trade lifecycle records what a payout came to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection

from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import ExternalUnavailable, InvalidInput
from voucher_exchange.faults import crash_point
from voucher_exchange.jobs import queue
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import InsufficientFunds, Phase, treasury
from voucher_exchange.metrics import RAIL_LATENCY, timed
from voucher_exchange.money import Money
from voucher_exchange.payouts import postings
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts.models import (
    WAITING_FOR_FUNDS,
    Destination,
    NewPayout,
    Payout,
    PayoutOutcome,
    PayoutPurpose,
    PayoutStatus,
    RailPending,
    TreasuryShort,
)
from voucher_exchange.ports.rail import RailTransfer, RailTransferStatus

MAX_FUNDING_REFERENCE = 100


def treasury_available(conn: Connection, currency: str) -> int:
    """Treasury money not yet promised to a payout in flight."""
    account = ledger_repo.account(conn, treasury(currency))
    if account is None:
        return 0
    return account.debits_posted - account.credits_posted - account.credits_pending


def record_treasury_funding(ctx: Context, reference: str, amount: Money, actor: str = "cli") -> bool:
    """Use case: record a deposit into the payout account (audited); False if the reference was seen.

    Payouts waiting for funds are woken at once.
    """
    with ctx.uow() as uow:
        recorded = fund_treasury(uow.conn, reference, amount, ctx.clock.now(), actor)
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return recorded


def fund_treasury(conn: Connection, reference: str, amount: Money, now: datetime, actor: str = "cli") -> bool:
    """Record money the operator put into the payout account; False if the reference was recorded before."""
    reference = reference.strip()
    if not reference or len(reference) > MAX_FUNDING_REFERENCE:
        raise InvalidInput("reference_invalid", "Give the bank's reference for this deposit.", "reference")
    if not amount.is_positive():
        raise InvalidInput("amount_invalid", "Fund a positive amount.", "amount")
    intent = postings.fund_treasury(reference, amount)
    if ledger_repo.transfer_id(conn, intent.key) is not None:
        return False
    ledger_repo.write(conn, intent, now)
    # Payouts queued behind an empty treasury go now, not at their next scheduled try.
    queue.run_waiting_now(conn, WAITING_FOR_FUNDS, now)
    audit.record(
        conn, actor, "treasury.fund", reference, {"amount": amount.amount, "currency": amount.currency}, now
    )
    return True


def create(conn: Connection, new: NewPayout, now: datetime) -> Payout:
    """The payout for `new.trade_id`, attempt `new.attempt` (a second call returns the first)."""
    inserted = payout_repo.insert_payout(conn, str(uuid.uuid4()), new, now)
    if inserted is not None:
        return inserted
    created = payout_repo.for_trade(conn, new.trade_id)
    assert created is not None and created.attempt == new.attempt
    return created


def create_compensation(conn: Connection, payout: Payout, amount: Money, now: datetime) -> Payout:
    """A payout of its own for the promise's compensation, to the account `payout` (the trade's,
    executed late) reached; the caller already credited `amount` to the seller's payable."""
    attempt = payout_repo.next_attempt(conn, payout.trade_id)
    new = NewPayout(
        payout.trade_id, payout.user_id, payout.destination_id, amount, attempt, PayoutPurpose.COMPENSATION
    )
    created = payout_repo.insert_payout(conn, str(uuid.uuid4()), new, now)
    assert created is not None, f"trade {payout.trade_id} attempt {attempt} exists"
    return created


def get(conn: Connection, payout_id: str) -> Payout | None:
    """One payout, or None."""
    return payout_repo.get(conn, payout_id)


def add_to_amount(conn: Connection, payout: Payout, extra: Money) -> Payout | None:
    """The created payout raised by `extra` before it is reserved (a compensation the ledger already
    credited to the seller's payable); the bank transfer then carries the sum. None when another
    process reserved it in between: its amount is fixed, and the caller rolls back its credit."""
    if not payout_repo.add_to_amount(conn, payout.id, extra.amount):
        return None
    return replace(payout, amount=payout.amount + extra)


def in_flight(conn: Connection) -> list[Payout]:
    """Payouts created or sent but not yet answered by the rail, oldest first."""
    return payout_repo.in_flight(conn)


def reserve(
    conn: Connection, payout: Payout, now: datetime, destination: Destination | None = None
) -> tuple[Payout, Destination]:
    """Reserve a created payout in the ledger (pending) and mark it sending; TreasuryShort if it cannot.

    The payout's destination is read unless the caller read it in this transaction already
    (`destination`). A payout already past `created` is returned as it is. InsufficientFunds
    leaves a transfer row written: the caller's transaction (or savepoint) must roll back.
    """
    if payout.status is PayoutStatus.CREATED:
        try:
            pending_id = ledger_repo.write(
                conn, postings.reserve_payout(payout.id, payout.user_id, payout.amount), now
            )
        except InsufficientFunds:
            raise TreasuryShort(payout.amount.currency) from None
        if payout_repo.mark_sending(conn, payout.id, pending_id, now):
            payout = replace(payout, status=PayoutStatus.SENDING, pending_transfer_id=pending_id, sent_at=now)
        else:
            moved = payout_repo.get(conn, payout.id)
            assert moved is not None
            payout = moved
    if destination is None or destination.id != payout.destination_id:
        destination = payout_repo.destination(conn, payout.destination_id)
    assert destination is not None
    return payout, destination


def _reserve(ctx: Context, payout_id: str) -> tuple[Payout, Destination]:
    """Reserve the payout in the ledger (pending) and mark it sending, in one transaction."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        payout = payout_repo.get(uow.conn, payout_id)
        assert payout is not None
        reserved = reserve(uow.conn, payout, now)
        uow.commit()
    return reserved


def _transfer_or_learn(ctx: Context, payout: Payout, destination: Destination) -> RailTransfer:
    """Send; if the answer was lost, ask the rail before sending again with the same key."""
    account_number = ctx.vault.decrypt(destination.account_number_enc, destination.id.encode()).decode()
    try:
        with timed(RAIL_LATENCY, "transfer"):
            return ctx.rail.transfer(
                payout.idempotency_key,
                destination.bank_code,
                account_number,
                destination.holder_name,
                payout.amount.amount,
                payout.amount.currency,
            )
    except ExternalUnavailable:
        with timed(RAIL_LATENCY, "transfer_status"):
            known = ctx.rail.transfer_status(payout.idempotency_key)
        if known.status is RailTransferStatus.NOT_FOUND:
            raise
        return known


def send(ctx: Context, payout_id: str, reserved: tuple[Payout, Destination] | None = None) -> PayoutOutcome:
    """Reserve and send a payout (or learn what the rail did with it); the caller records the outcome.

    `reserved`: what `reserve` returned in a transaction the caller committed (no second read).
    Raises TreasuryShort while the treasury cannot cover it, RailPending while the bank has
    accepted it without executing it yet, ExternalUnavailable when the rail's answer is unknown
    (try again later: the same key never executes twice).
    """
    payout, destination = reserved if reserved is not None else _reserve(ctx, payout_id)
    if payout.status in (PayoutStatus.EXECUTED, PayoutStatus.REJECTED):
        return PayoutOutcome(payout, payout.status is PayoutStatus.EXECUTED, payout.rail_reference)
    crash_point("before_rail_transfer")
    result = _transfer_or_learn(ctx, payout, destination)
    crash_point("after_rail_transfer")
    if result.status is RailTransferStatus.PENDING:
        raise RailPending(payout.id)
    executed = result.status is RailTransferStatus.EXECUTED
    return PayoutOutcome(payout, executed, result.rail_reference, result.executed_at)


def record(conn: Connection, outcome: PayoutOutcome, now: datetime) -> None:
    """Post (executed) or void (refused) the pending transfer and settle the payout; idempotent."""
    payout = outcome.payout
    assert payout.pending_transfer_id is not None
    phase = Phase.POST if outcome.executed else Phase.VOID
    ledger_repo.settle(
        conn, payout.pending_transfer_id, phase, now, "rail executed" if outcome.executed else "rail rejected"
    )
    status = PayoutStatus.EXECUTED if outcome.executed else PayoutStatus.REJECTED
    settled = payout_repo.mark_settled(
        conn, payout.id, status, outcome.rail_reference or payout.rail_reference, now
    )
    if settled and not outcome.executed and payout.purpose is PayoutPurpose.TRADE:
        # Never offered again as if nothing happened (nor kept as the default). A refused
        # compensation does not condemn the account the trade's payout just reached.
        payout_repo.mark_refused(conn, payout.destination_id)


def sent_to_bank(conn: Connection, trade_id: str) -> int:
    """What the bank executed for a trade (minor units): 0 when a debt took it all (netting sends
    nothing), less than the payout when part of it settled a debt."""
    return sum(
        p.amount.amount
        for p in payout_repo.all_for_trade(conn, trade_id)
        if p.status is PayoutStatus.EXECUTED
    )


def compensation_sent_apart(conn: Connection, trade_id: str) -> PayoutStatus | None:
    """Where the compensation sent on its own (after a payout the bank executed late) stands, or
    None when there is none (it went with the payout, or was not owed)."""
    compensation = payout_repo.compensation_for_trade(conn, trade_id)
    return None if compensation is None else compensation.status


def for_trade(conn: Connection, trade_id: str) -> Payout | None:
    """The payout made for a trade, or None."""
    return payout_repo.for_trade(conn, trade_id)


def destination(conn: Connection, destination_id: str) -> Destination | None:
    """One payout destination, or None."""
    return payout_repo.destination(conn, destination_id)


def statuses_for_trades(conn: Connection, trade_ids: list[str]) -> dict[str, PayoutStatus]:
    """trade id → its payout's status, for the trades that have one."""
    return payout_repo.statuses_for_trades(conn, trade_ids)


@dataclass(frozen=True)
class TreasuryState:
    """What the treasury holds and what waits on it: payouts queue visibly when it runs low."""

    available: Money
    waiting_count: int
    waiting_total: Money

    @property
    def short(self) -> bool:
        """True when the payouts waiting to be reserved exceed what the treasury holds."""
        return self.waiting_total.amount > self.available.amount


def treasury_state(conn: Connection, currency: str) -> TreasuryState:
    """The treasury's free money and the payouts not yet reserved against it."""
    count, total = payout_repo.not_yet_reserved(conn, currency)
    return TreasuryState(Money(treasury_available(conn, currency), currency), count, Money(total, currency))


def payouts_of(conn: Connection, trade_id: str) -> list[Payout]:
    """Every payout attempt made for a trade, first first."""
    return payout_repo.all_for_trade(conn, trade_id)
