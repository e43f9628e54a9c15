"""Review use cases: list held trades, approve or reject with a note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from voucher_exchange.accounts.models import User
from voucher_exchange.audit import service as audit
from voucher_exchange.clock import Clock
from voucher_exchange.db.schema import decisions
from voucher_exchange.db.schema import trades as trades_table
from voucher_exchange.errors import Conflict, InvalidInput, NotFound
from voucher_exchange.jobs import queue
from voucher_exchange.risk import repository as risk
from voucher_exchange.risk.sanctions_customers import NOT_LISTED_PERSON, clear_after_review, reviewer_view
from voucher_exchange.trades import repository as trades
from voucher_exchange.trades.models import TradeStatus, check_transition
from voucher_exchange.trades.service import PROCESS_TRADE, view

REVIEW_RULESET = "human"
# Where an approved trade resumes, by the status it was held from.
RESUME_AFTER = {
    TradeStatus.SCREENING: TradeStatus.VERIFYING,
    TradeStatus.VERIFYING: TradeStatus.REDEEMING,
}


# Close reasons a reviewer picks; each becomes the trade's label for backtests.
CLOSE_REASONS = {
    "approve": {"legitimate": "good", "insufficient_evidence": "good", NOT_LISTED_PERSON: "good"},
    "reject": {
        "suspected_fraud": "bad",
        "stolen_or_scam": "bad",
        "carrier_billing": "bad",
        "mule_account": "bad",
        "policy": "bad",
    },
}
DEFAULT_CLOSE = {"approve": "legitimate", "reject": "suspected_fraud"}


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer wants to see."""

    status: TradeStatus = TradeStatus.IN_REVIEW
    reason: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    older_than_minutes: int | None = None
    limit: int = 100


@dataclass(frozen=True)
class ReviewQueue:
    """Held trades with their evidence, and how long the oldest has waited."""

    items: list[dict[str, Any]]
    total: int
    oldest_age_seconds: float | None


def evidence_for(conn: Connection, trade_id: str) -> dict[str, Any] | None:
    """The risk decision's evidence: rule set, score, rules hit, features, the issuer's answer."""
    row = conn.execute(
        select(decisions.c.evidence, decisions.c.ruleset_version)
        .where((decisions.c.trade_id == trade_id) & (decisions.c.stage == "risk"))
        .order_by(decisions.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    evidence = dict(row.evidence)
    return {
        "ruleset": row.ruleset_version,
        "score": evidence.get("score"),
        "rules_hit": [r for r in evidence.get("rules", []) if r["hit"]],
        "features": evidence.get("features", {}),
        "issuer": evidence.get("issuer", {}),
    }


def queue_items(conn: Connection, wanted: QueueFilter, lang: str, now: datetime) -> ReviewQueue:
    """Held trades, oldest first, with the evidence a reviewer needs."""
    t = trades_table.c
    query = select(trades_table).where(t.status == wanted.status.value)
    if wanted.min_amount is not None:
        query = query.where(t.face_value >= wanted.min_amount)
    if wanted.max_amount is not None:
        query = query.where(t.face_value <= wanted.max_amount)
    if wanted.older_than_minutes is not None:
        query = query.where(t.updated_at <= now - timedelta(minutes=wanted.older_than_minutes))
    rows = list(conn.execute(query.order_by(t.updated_at, t.id)))
    items = []
    for row in rows:
        data = view(conn, row, lang).data
        if wanted.reason and wanted.reason not in [
            r["code"] for r in (data["decision"] or {}).get("reasons", [])
        ]:
            continue
        data["evidence"] = evidence_for(conn, row.id)
        data["sanctions"] = reviewer_view(conn, row.user_id, row.payout_destination_id)
        data["waiting_seconds"] = round((now - row.updated_at).total_seconds(), 1)
        items.append(data)
    oldest = items[0]["waiting_seconds"] if items else None
    return ReviewQueue(items[: wanted.limit], len(items), oldest)


def _held_from(conn: Connection, trade_id: str) -> TradeStatus:
    held = [e for e in trades.events(conn, trade_id) if e.to_status == TradeStatus.IN_REVIEW.value]
    return TradeStatus(held[-1].from_status)


def decide(
    conn: Connection,
    clock: Clock,
    reviewer: User,
    trade_id: str,
    outcome: str,
    note: str,
    close_reason: str | None = None,
) -> Any:
    """Approve (the trade resumes where it was held) or reject (nothing moves); the close reason labels it."""
    if outcome not in CLOSE_REASONS:
        raise InvalidInput("outcome_invalid", "Decide approve or reject.", "outcome")
    if not note.strip():
        raise InvalidInput("note_required", "Write a note saying why.", "note")
    close_reason = close_reason or DEFAULT_CLOSE[outcome]
    if close_reason not in CLOSE_REASONS[outcome]:
        raise InvalidInput(
            "close_reason_invalid",
            f"To {outcome}, close with one of: {', '.join(sorted(CLOSE_REASONS[outcome]))}.",
            "reason",
        )
    row = trades.get(conn, trade_id)
    if row is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    if row.status != TradeStatus.IN_REVIEW.value:
        raise Conflict("trade_not_in_review", f"The trade is {row.status}, not in review.")
    now = clock.now()
    if outcome == "approve":
        target = RESUME_AFTER[_held_from(conn, trade_id)]
        reasons: list[str] = []
    else:
        target = TradeStatus.REJECTED
        reasons = ["reviewer_rejected"]
    check_transition(TradeStatus.IN_REVIEW, target)
    trades.add_decision(
        conn,
        trade_id,
        "review",
        outcome,
        reasons,
        REVIEW_RULESET,
        {"close_reason": close_reason},
        reviewer.email,
        now,
        note,
    )
    risk.label(conn, trade_id, CLOSE_REASONS[outcome][close_reason], "review", close_reason, now)
    audit.record(
        conn, reviewer.email, f"review.{outcome}", trade_id, {"close_reason": close_reason, "note": note}, now
    )
    if close_reason == NOT_LISTED_PERSON:  # sanctions: remember "not the listed person" for this entry
        clear_after_review(conn, row.user_id, row.payout_destination_id, trade_id, reviewer.email, note, now)
    if not trades.transition(conn, trade_id, TradeStatus.IN_REVIEW, target, now, reviewer.email, note):
        raise Conflict("trade_not_in_review", "Another reviewer decided this trade first.")
    if target is not TradeStatus.REJECTED:
        queue.enqueue(conn, PROCESS_TRADE, trade_id, now)
    return trades.get(conn, trade_id)
