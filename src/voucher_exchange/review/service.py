"""Review use cases: list held trades, approve or reject with a note."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from voucher_exchange.accounts.models import User
from voucher_exchange.clock import Clock
from voucher_exchange.errors import Conflict, NotFound
from voucher_exchange.jobs import queue
from voucher_exchange.trades import repository as trades
from voucher_exchange.trades.models import TradeStatus, check_transition
from voucher_exchange.trades.service import PROCESS_TRADE, TradeView, view

REVIEW_RULESET = "human"
# Where an approved trade resumes, by the status it was held from.
RESUME_AFTER = {
    TradeStatus.SCREENING: TradeStatus.VERIFYING,
    TradeStatus.VERIFYING: TradeStatus.REDEEMING,
}


def queue_items(conn: Connection, status: TradeStatus, lang: str, limit: int) -> list[TradeView]:
    """Held trades, oldest first."""
    return [view(conn, r, lang) for r in trades.list_by_status(conn, status, limit)]


def _held_from(conn: Connection, trade_id: str) -> TradeStatus:
    held = [e for e in trades.events(conn, trade_id) if e.to_status == TradeStatus.IN_REVIEW.value]
    return TradeStatus(held[-1].from_status)


def decide(conn: Connection, clock: Clock, reviewer: User, trade_id: str, outcome: str, note: str) -> Any:
    """Approve (the trade resumes where it was held) or reject (nothing moves)."""
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
        conn, trade_id, "review", outcome, reasons, REVIEW_RULESET, {}, reviewer.email, now, note
    )
    if not trades.transition(conn, trade_id, TradeStatus.IN_REVIEW, target, now, reviewer.email, note):
        raise Conflict("trade_not_in_review", "Another reviewer decided this trade first.")
    if target is not TradeStatus.REJECTED:
        queue.enqueue(conn, PROCESS_TRADE, trade_id, now)
    return trades.get(conn, trade_id)
