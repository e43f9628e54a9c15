"""The evidence record of a refused or reversed trade, signed like a receipt; the seller's appeal.

A record lists the outside facts the refusal or reversal rests on (`trades.facts`: what the
issuer was asked and when, the SHA-256 of its answer as received, its time of use and
reference), when the exchange first saw the voucher (its keyed fingerprint; only the instant,
never whose trade it was), where the facts sit in the trade's event hash chain, and the appeal
with the reviewer's answer. It is built when asked and signed with the receipt keys
(`receipts.service.sign_record`): the same record always gets the same signature, and an
appeal or an answer changes the record, so the signature changes with it.

Appeals: one per trade. A refusal's appeal is kept here (`trade_appeals`); a reversal's stays
with its chargeback report (`reversals`), where a reviewer may write the debt off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.accounts.models import User
from voucher_exchange.audit import service as audit
from voucher_exchange.clock import Clock
from voucher_exchange.context import Context
from voucher_exchange.disputes import repository as appeal_repo
from voucher_exchange.errors import Conflict, Forbidden, InvalidInput, NotFound
from voucher_exchange.receipts import service as receipt_service
from voucher_exchange.receipts.models import EVIDENCE_VERSION, SignedRecord
from voucher_exchange.reversals import repository as chargeback_repo
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.review.service import conflict_of_interest
from voucher_exchange.trades import facts as trade_facts
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.facts import utc_iso
from voucher_exchange.trades.models import DecisionStage, Trade, TradeStatus

MAX_MESSAGE = 2000
REFUSAL_OUTCOMES = ("upheld", "overturned")
HAS_RECORD = frozenset({TradeStatus.REJECTED, TradeStatus.REVERSED})


class NoEvidence(Conflict):
    """The trade's outcome rests on no outside fact: there is nothing to sign."""

    def __init__(self) -> None:
        super().__init__(
            "evidence_not_available",
            "This trade has no evidence record: only a refusal or reversal that rests on the "
            "issuer's answer has one.",
        )


def _own(conn: Connection, user: User, trade_id: str) -> Trade:
    trade = trade_repo.get(conn, trade_id)
    if trade is None or trade.user_id != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    return trade


def has_record(conn: Connection, trade: Trade) -> bool:
    """Whether the trade has an evidence record (refused or reversed on an outside fact)."""
    return trade.status in HAS_RECORD and bool(trade_facts.facts_of(conn, trade.id))


def build_record(conn: Connection, trade: Trade) -> dict[str, Any]:
    """The record's fields, as signed: strings, integers, booleans and null only."""
    found = trade_facts.facts_of(conn, trade.id)
    if trade.status not in HAS_RECORD or not found:
        raise NoEvidence()
    first_seen = trade_facts.first_seen_at(conn, trade.id)
    events = trade_repo.events(conn, trade.id)
    record: dict[str, Any] = {
        "notice": "evidence",
        "version": EVIDENCE_VERSION,
        "trade_id": trade.id,
        "status": trade.status.value,
        "reason": _reason(conn, trade),
        "brand": trade.brand_slug,
        "face_value": trade.face_value.as_json(),
        "voucher_fingerprint": trade.voucher_fingerprint,
        "submitted_at": utc_iso(trade.created_at),
        "facts": [
            {
                "at": utc_iso(f.at),
                "source": f.source,
                "what": f.what,
                "answer_sha256": f.answer_sha256,
                "details": f.details,
                "chain": {"events": f.event_index, "head": f.event_hash},
            }
            for f in found
        ],
        "first_seen_at": utc_iso(first_seen) if first_seen else None,
        "history": {"events": len(events), "head": _head(conn, trade.id)},
    }
    appeal = _appeal_block(conn, trade)
    if appeal is not None:
        record["appeal"] = appeal
    return record


def _reason(conn: Connection, trade: Trade) -> str:
    if trade.status is TradeStatus.REVERSED:
        return "voucher_reversed"
    decision = trade_repo.latest_decision(conn, trade.id, skip=DecisionStage.REVERSAL)
    return decision.reasons[0] if decision and decision.reasons else "rejected"


def _head(conn: Connection, trade_id: str) -> str | None:
    # The chain's head as the facts' own positions are read: through the one door.
    return trade_facts.chain_head(conn, trade_id)


def _appeal_block(conn: Connection, trade: Trade) -> dict[str, Any] | None:
    refusal = appeal_repo.get(conn, trade.id)
    if refusal is not None:
        return {
            "message": refusal.message,
            "appealed_at": utc_iso(refusal.appealed_at),
            "status": refusal.outcome or "open",
            "answer": refusal.answer,
            "answered_at": utc_iso(refusal.answered_at) if refusal.answered_at else None,
        }
    report = chargeback_repo.applied_for(conn, trade.id)
    if report is None or report.appealed_at is None:
        return None
    answer = next(
        (
            d
            for d in reversed(trade_repo.all_decisions(conn, trade.id))
            if d.stage is DecisionStage.REVERSAL and d.outcome in ("upheld", "written_off")
        ),
        None,
    )
    return {
        "message": report.appeal_note,
        "appealed_at": utc_iso(report.appealed_at),
        "status": report.appeal_outcome.value if report.appeal_outcome else "open",
        "answer": answer.note if answer else None,
        "answered_at": utc_iso(answer.created_at) if answer else None,
    }


def own_record(conn: Connection, user: User, trade_id: str) -> dict[str, Any] | None:
    """The seller's evidence record, unsigned (for their trade page); None when the trade has none."""
    trade = _own(conn, user, trade_id)
    return build_record(conn, trade) if has_record(conn, trade) else None


def own_evidence(ctx: Context, user: User, trade_id: str) -> SignedRecord:
    """Use case: the seller's signed evidence record (the first record ever may make the first key)."""
    with ctx.uow() as uow:
        trade = _own(uow.conn, user, trade_id)
        record = build_record(uow.conn, trade)
        signed = receipt_service.sign_record(uow.conn, ctx.settings.receipt_key_dir, ctx.clock.now(), record)
        uow.commit()
    return signed


def appeal_trade(ctx: Context, user: User, trade_id: str, message: str) -> None:
    """Use case: the seller contests a refusal or a reversal, once (see `appeal`)."""
    with ctx.uow() as uow:
        appeal(uow.conn, ctx.clock, user, trade_id, message)
        uow.commit()


def appeal(conn: Connection, clock: Clock, user: User, trade_id: str, message: str) -> None:
    """Contest a refusal resting on an outside fact, or a reversal one is asked to pay back; once."""
    message = message.strip()
    if not message or len(message) > MAX_MESSAGE:
        raise InvalidInput(
            "message_required", "Say why the decision is wrong (at most 2,000 characters).", "message"
        )
    trade = _own(conn, user, trade_id)
    if trade.status is TradeStatus.REVERSED:
        reversal_service.appeal(conn, clock, user, trade.id, message)
        return
    if trade.status is not TradeStatus.REJECTED or not trade_facts.facts_of(conn, trade.id):
        raise Conflict(
            "appeal_not_possible",
            "Only a refusal that rests on the issuer's answer, or a reversal you are asked to pay "
            "back, can be appealed.",
        )
    now = clock.now()
    if not appeal_repo.add(conn, trade.id, user.id, message, now):
        raise Conflict("appeal_already_made", "You have already appealed this; a reviewer will answer.")
    trade_repo.add_event(
        conn, trade.id, TradeStatus.REJECTED, TradeStatus.REJECTED, now, user.email, APPEALED
    )
    audit.record(conn, user.email, "refusal.appeal", trade.id, {}, now)


APPEALED = "appealed by the seller"


@dataclass(frozen=True)
class OpenAppeal:
    """An appeal waiting for a reviewer: against a refusal or a reversal."""

    trade_id: str
    kind: str  # "refusal" | "reversal"
    reason: str
    message: str
    appealed_at: datetime
    owed: dict[str, Any] | None


def open_appeals(conn: Connection) -> list[OpenAppeal]:
    """Every appeal waiting for a reviewer, oldest first."""
    found = [
        OpenAppeal(
            a.reference, "reversal", a.reason, a.appeal_note or "", a.appealed_at, a.receivable.as_json()
        )
        for a in reversal_service.open_appeals(conn)
        if a.appealed_at is not None
    ]
    for a in appeal_repo.open_appeals(conn):
        trade = trade_repo.get(conn, a.trade_id)
        reason = _reason(conn, trade) if trade else "rejected"
        found.append(OpenAppeal(a.trade_id, "refusal", reason, a.message, a.appealed_at, None))
    return sorted(found, key=lambda a: a.appealed_at)


def decide_appeal(ctx: Context, reviewer: User, trade_id: str, outcome: str, note: str) -> str:
    """Use case: a reviewer answers an appeal (see `answer_appeal`)."""
    with ctx.uow() as uow:
        answer = answer_appeal(uow.conn, ctx.clock, reviewer, trade_id, outcome, note)
        uow.commit()
    return answer


def answer_appeal(
    conn: Connection, clock: Clock, reviewer: User, trade_id: str, outcome: str, note: str
) -> str:
    """Answer a refusal's appeal (`upheld` | `overturned`) or a reversal's (`upheld` | `written_off`).

    Never on a trade linked to the reviewer (their own, their bank account, device, address,
    identity): another reviewer must.
    """
    note = note.strip()
    if not note or len(note) > MAX_MESSAGE:
        raise InvalidInput("note_required", "Write a note saying why.", "note")
    trade = trade_repo.get(conn, trade_id)
    if trade is None:
        raise NotFound("appeal_unknown", "There is no appeal for this trade.")
    link = conflict_of_interest(conn, reviewer, trade)
    if link is not None:
        raise Forbidden(
            "reviewer_conflict",
            f"You cannot answer this appeal: the trade is linked to you ({link}). Another reviewer must.",
        )
    refusal = appeal_repo.get(conn, trade.id)
    if refusal is None:
        return reversal_service.answer_appeal(conn, clock, reviewer, trade.id, outcome, note).value
    if outcome not in REFUSAL_OUTCOMES:
        raise InvalidInput("outcome_invalid", "Answer upheld or overturned.", "outcome")
    now = clock.now()
    if not appeal_repo.answer(conn, trade.id, outcome, note, reviewer.email, now):
        raise Conflict("appeal_already_answered", "This appeal was answered already.")
    trade_repo.add_event(
        conn, trade.id, TradeStatus.REJECTED, TradeStatus.REJECTED, now, reviewer.email, f"appeal {outcome}"
    )
    audit.record(conn, reviewer.email, f"refusal.appeal.{outcome}", trade.id, {"note": note}, now)
    return outcome
