"""The `trade_appeals` table: a seller's appeal against a refusal, and the reviewer's answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import trade_appeals


@dataclass(frozen=True)
class RefusalAppeal:
    """One appeal as stored."""

    trade_id: str
    seller: str
    """The seller's user id (never an e-mail: an erased account leaves nothing here to scrub)."""
    message: str
    appealed_at: datetime
    outcome: str | None
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None


def _appeal(row: Any) -> RefusalAppeal:
    return RefusalAppeal(
        row.trade_id,
        row.seller,
        row.message,
        row.appealed_at,
        row.outcome,
        row.answer,
        row.answered_by,
        row.answered_at,
    )


def add(conn: Connection, trade_id: str, seller: str, message: str, now: datetime) -> bool:
    """Keep the appeal; False when the trade was appealed already (one per trade)."""
    values = {"trade_id": trade_id, "seller": seller, "message": message, "appealed_at": now}
    return insert_ignore(conn, trade_appeals, values, ["trade_id"])


def get(conn: Connection, trade_id: str) -> RefusalAppeal | None:
    """The trade's appeal, if any."""
    row = conn.execute(select(trade_appeals).where(trade_appeals.c.trade_id == trade_id)).first()
    return None if row is None else _appeal(row)


def answer(conn: Connection, trade_id: str, outcome: str, note: str, reviewer: str, now: datetime) -> bool:
    """Record the reviewer's answer; False when it was answered already."""
    a = trade_appeals.c
    done = conn.execute(
        update(trade_appeals)
        .where(a.trade_id == trade_id, a.outcome.is_(None))
        .values(outcome=outcome, answer=note, answered_by=reviewer, answered_at=now)
    )
    return done.rowcount == 1


def open_appeals(conn: Connection, limit: int = 200) -> list[RefusalAppeal]:
    """Appeals without an answer, oldest first."""
    a = trade_appeals.c
    rows = conn.execute(select(trade_appeals).where(a.outcome.is_(None)).order_by(a.appealed_at).limit(limit))
    return [_appeal(r) for r in rows]
