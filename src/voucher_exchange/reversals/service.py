"""Reversals: read the issuer's chargeback feed, reverse paid trades within the liability window,
let the seller appeal once, let a reviewer answer.

Guards, as other ledgers learned them: a report is kept once (the issuer's sequence is
unique); a trade is reversed once (`paid → reversed` is conditional, and a second report
for it is recorded as a duplicate whose answer is the first result); a trade whose payout
has not settled is not reversed yet (the report waits and is applied on a later poll);
the ledger keys make every posting idempotent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import User
from voucher_exchange.audit import service as audit
from voucher_exchange.clock import Clock
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, InvalidInput, NotFound
from voucher_exchange.identity import links
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import InsufficientFunds, seller_receivable
from voucher_exchange.money import Money
from voucher_exchange.reversals import postings
from voucher_exchange.reversals import repository as chargeback_repo
from voucher_exchange.reversals.models import AppealOutcome, Chargeback, ChargebackOutcome
from voucher_exchange.risk import repository as risk_repo
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades import facts, lifecycle, publish
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import TradeStatus

MAX_NOTE = 2000


@dataclass(frozen=True)
class PollResult:
    """What one poll of the issuer's feed did."""

    received: int
    applied: list[tuple[str, ChargebackOutcome]]


def poll(ctx: Context) -> PollResult:
    """Read new chargebacks from the issuer (outside any transaction), keep them, apply what can be."""
    with ctx.uow(readonly=True) as uow:
        after = chargeback_repo.last_seq(uow.conn)
    reports = ctx.issuer.chargebacks(after)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        received = sum(chargeback_repo.add(uow.conn, report, now) for report in reports)
        applied = apply_pending(uow.conn, now, ctx.settings.liability_window_days)
        uow.commit()
    return PollResult(received, applied)


def poll_job(ctx: Context, _ref: str) -> None:
    """The recurring job's handler."""
    poll(ctx)


def apply_pending(conn: Connection, now: datetime, window_days: int) -> list[tuple[str, ChargebackOutcome]]:
    """Apply every report that can be applied now; returns (reference, outcome) for those applied."""
    done: list[tuple[str, ChargebackOutcome]] = []
    for report in chargeback_repo.pending(conn):
        outcome = _apply(conn, report, now, window_days)
        if outcome is not ChargebackOutcome.PENDING:
            done.append((report.reference, outcome))
    return done


def _apply(conn: Connection, report: Chargeback, now: datetime, window_days: int) -> ChargebackOutcome:
    trade = trade_repo.get(conn, report.reference)
    if trade is None:
        chargeback_repo.settle(conn, report.id, ChargebackOutcome.UNKNOWN_TRADE, 0, now)
        return ChargebackOutcome.UNKNOWN_TRADE
    if trade.status is TradeStatus.REVERSED:
        chargeback_repo.settle(conn, report.id, ChargebackOutcome.DUPLICATE, 0, now)
        return ChargebackOutcome.DUPLICATE
    if trade.status is not TradeStatus.PAID:
        # The payout has not settled (or was refused and waits for another account): wait.
        return ChargebackOutcome.PENDING
    paid_at = trade_repo.paid_at(conn, trade.id)
    assert paid_at is not None
    liability_ends = paid_at + timedelta(days=window_days)
    liable = report.reported_at <= liability_ends
    for intent in postings.reverse(
        trade.id, trade.user_id, trade.brand_slug, trade.face_value, trade.payout, liable
    ):
        ledger_repo.write(conn, intent, now)
    owed = trade.payout.amount if liable else 0
    evidence = {
        "reason": report.reason,
        "reported_at": report.reported_at.isoformat(),
        "issuer_seq": report.issuer_seq,
        "paid_at": paid_at.isoformat(),
        "liability_ends": liability_ends.date().isoformat(),
        "seller_liable": liable,
        "owed": {"amount": owed, "currency": trade.currency},
    }
    lifecycle.reverse(conn, trade.id, now, evidence)
    # The issuer's report as it arrived in its feed (the item, in canonical JSON: its hash).
    item = {
        "id": report.issuer_seq,
        "reference": report.reference,
        "amount": report.amount.amount,
        "currency": report.amount.currency,
        "reason": report.reason,
        "reported_at": facts.utc_iso(report.reported_at),
    }
    facts.record_fact(
        conn,
        trade.id,
        "issuer",
        "issuer.chargeback",
        json.dumps(item, sort_keys=True, separators=(",", ":")).encode(),
        {
            "reason": report.reason,
            "reported_at": facts.utc_iso(report.reported_at),
            "reference": str(report.issuer_seq),
            "amount": report.amount.as_json(),
            "seller_liable": liable,
            "owed": {"amount": owed, "currency": trade.currency},
        },
        now,
    )
    if owed:
        publish.receivable_changed(conn, trade.id, "reversal", now)
    risk_repo.label(conn, trade.id, "bad", "reversal", report.reason, now)
    outcome = ChargebackOutcome.REVERSED if liable else ChargebackOutcome.LOSS
    chargeback_repo.settle(conn, report.id, outcome, owed, now)
    return outcome


def owed_by(conn: Connection, user_id: str, currency: str) -> Money:
    """What a seller owes after reversals, not yet settled by netting."""
    account = ledger_repo.account(conn, seller_receivable(user_id, currency))
    owed = 0 if account is None else account.debits_posted - account.credits_posted
    return Money(owed, currency)


@dataclass(frozen=True)
class PersonOwes:
    """What a person owes after reversals: on this account, and on their other accounts."""

    own: Money
    linked: Money

    @property
    def total(self) -> Money:
        """Everything the person owes (what this account's next payouts settle first)."""
        return Money(self.own.amount + self.linked.amount, self.own.currency)


def owed_by_person(conn: Connection, vault: Vault, user_id: str, currency: str) -> PersonOwes:
    """What the account owes and what the same person's other accounts owe (identity/links.py)."""
    user = accounts.by_id(conn, user_id)
    others = [] if user is None else links.linked_accounts(conn, vault, user)
    linked = sum(owed_by(conn, other, currency).amount for other in others)
    return PersonOwes(owed_by(conn, user_id, currency), Money(linked, currency))


def appeal_reversal(ctx: Context, user: User, trade_id: str, note: str) -> None:
    """Use case: the seller contests a reversal, once (see `appeal`)."""
    with ctx.uow() as uow:
        appeal(uow.conn, ctx.clock, user, trade_id, note)
        uow.commit()


def decide_appeal(ctx: Context, reviewer: User, trade_id: str, outcome: str, note: str) -> AppealOutcome:
    """Use case: a reviewer upholds a reversal or writes off what the seller owes (see `answer_appeal`)."""
    with ctx.uow() as uow:
        answer = answer_appeal(uow.conn, ctx.clock, reviewer, trade_id, outcome, note)
        uow.commit()
    return answer


def appeal(conn: Connection, clock: Clock, user: User, trade_id: str, note: str) -> None:
    """The seller contests a reversal they are liable for; once."""
    note = note.strip()
    if not note or len(note) > MAX_NOTE:
        raise InvalidInput(
            "note_required", "Say why the reversal is wrong (at most 2,000 characters).", "note"
        )
    trade = trade_repo.get(conn, trade_id)
    if trade is None or trade.user_id != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    report = chargeback_repo.applied_for(conn, trade.id)
    if report is None or report.outcome is not ChargebackOutcome.REVERSED:
        raise Conflict("appeal_not_possible", "Only a reversal you are asked to pay back can be appealed.")
    now = clock.now()
    if not chargeback_repo.record_appeal(conn, report.id, note, now):
        raise Conflict("appeal_already_made", "You have already appealed this; a reviewer will answer.")
    lifecycle.record_appeal(conn, trade.id, now, user.email, note)
    audit.record(conn, user.email, "reversal.appeal", trade.id, {"chargeback": report.issuer_seq}, now)


def open_appeals(conn: Connection) -> list[Chargeback]:
    """Appeals waiting for a reviewer, oldest first."""
    return chargeback_repo.open_appeals(conn)


def answer_appeal(
    conn: Connection, clock: Clock, reviewer: User, trade_id: str, outcome: str, note: str
) -> AppealOutcome:
    """Uphold the reversal, or write off what the seller owes for it (the exchange takes the loss)."""
    try:
        answer = AppealOutcome(outcome)
    except ValueError:
        raise InvalidInput("outcome_invalid", "Answer upheld or written_off.", "outcome") from None
    if not note.strip():
        raise InvalidInput("note_required", "Write a note saying why.", "note")
    trade = trade_repo.get(conn, trade_id)
    report = chargeback_repo.applied_for(conn, trade_id)
    if trade is None or report is None or report.appealed_at is None:
        raise NotFound("appeal_unknown", "There is no appeal for this trade.")
    now = clock.now()
    if not chargeback_repo.decide_appeal(conn, report.id, answer, reviewer.email, now):
        raise Conflict("appeal_already_answered", "This appeal was answered already.")
    if answer is AppealOutcome.WRITTEN_OFF:
        remaining = min(report.receivable.amount, owed_by(conn, trade.user_id, trade.currency).amount)
        if remaining > 0:
            try:
                ledger_repo.write(
                    conn, postings.write_off(trade.id, trade.user_id, Money(remaining, trade.currency)), now
                )
            except InsufficientFunds:
                raise Conflict(
                    "appeal_already_answered", "What was owed changed meanwhile; try again."
                ) from None
    lifecycle.answer_appeal(conn, trade.id, now, reviewer.email, answer.value, note)
    if answer is AppealOutcome.WRITTEN_OFF and remaining > 0:
        publish.receivable_changed(conn, trade.id, "write_off", now)
    audit.record(conn, reviewer.email, f"reversal.appeal.{answer.value}", trade.id, {"note": note}, now)
    return answer
