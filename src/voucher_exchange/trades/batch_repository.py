"""Batch SQL: the `trade_batches` and `trade_batch_lines` tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from voucher_exchange.db.schema import trade_batch_lines, trade_batches, trades
from voucher_exchange.money import Money

PREVIEWED = "previewed"
SUBMITTED = "submitted"


@dataclass(frozen=True)
class StoredBatch:
    """A batch as previewed (codes still encrypted) or sold."""

    id: str
    user_id: str
    status: str
    brand_slug: str
    face_value: Money
    method: str
    acquired_on: date
    payout_destination_id: str
    line_count: int
    payout_each: Money
    created_at: datetime
    submitted_at: datetime | None
    summarized_at: datetime | None


@dataclass(frozen=True)
class StoredLine:
    """One line of a sold batch, with its trade's status when it became a trade."""

    number: int
    masked: str
    trade_id: str | None
    error_code: str | None
    error_message: str | None
    status: str | None


def _batch(row: Any) -> StoredBatch:
    b = row
    return StoredBatch(
        b.id, b.user_id, b.status, b.brand_slug, Money(int(b.face_value), b.currency), b.method,
        b.acquired_on, b.payout_destination_id, int(b.line_count), Money(int(b.payout_each), b.currency),
        b.created_at, b.submitted_at, b.summarized_at,
    )  # fmt: skip


def insert_batch(conn: Connection, batch: StoredBatch, lines_enc: bytes) -> None:
    """Store a previewed batch."""
    conn.execute(
        insert(trade_batches).values(
            id=batch.id,
            user_id=batch.user_id,
            status=batch.status,
            brand_slug=batch.brand_slug,
            face_value=batch.face_value.amount,
            currency=batch.face_value.currency,
            method=batch.method,
            acquired_on=batch.acquired_on,
            payout_destination_id=batch.payout_destination_id,
            line_count=batch.line_count,
            payout_each=batch.payout_each.amount,
            lines_enc=lines_enc,
            created_at=batch.created_at,
        )
    )


def get(conn: Connection, batch_id: str) -> StoredBatch | None:
    """One batch, or None."""
    row = conn.execute(select(trade_batches).where(trade_batches.c.id == batch_id)).first()
    return None if row is None else _batch(row)


def take(conn: Connection, batch_id: str, user_id: str, not_before: datetime, now: datetime) -> bytes | None:
    """Mark a previewed batch sold and hand back its encrypted codes, once; None if sold or expired."""
    b = trade_batches.c
    row = conn.execute(
        select(b.lines_enc).where(
            (b.id == batch_id)
            & (b.user_id == user_id)
            & (b.status == PREVIEWED)
            & (b.created_at > not_before)
        )
    ).first()
    if row is None or row.lines_enc is None:
        return None
    done = conn.execute(
        update(trade_batches)
        .where((b.id == batch_id) & (b.status == PREVIEWED))
        .values(status=SUBMITTED, submitted_at=now, lines_enc=None)
    )
    return bytes(row.lines_enc) if done.rowcount == 1 else None


def add_line(
    conn: Connection,
    batch_id: str,
    number: int,
    masked: str,
    trade_id: str | None,
    error: tuple[str, str] | None = None,
) -> None:
    """What became of one line (in the same transaction as its trade, when it has one)."""
    conn.execute(
        insert(trade_batch_lines).values(
            batch_id=batch_id,
            number=number,
            masked=masked,
            trade_id=trade_id,
            error_code=error[0] if error else None,
            error_message=error[1] if error else None,
        )
    )


def lines(conn: Connection, batch_id: str) -> list[StoredLine]:
    """A batch's lines in order, each with its trade's current status."""
    rows = conn.execute(
        select(trade_batch_lines, trades.c.status)
        .select_from(trade_batch_lines.outerjoin(trades, trades.c.id == trade_batch_lines.c.trade_id))
        .where(trade_batch_lines.c.batch_id == batch_id)
        .order_by(trade_batch_lines.c.number)
    )
    return [StoredLine(r.number, r.masked, r.trade_id, r.error_code, r.error_message, r.status) for r in rows]


def batch_of(conn: Connection, trade_id: str) -> StoredBatch | None:
    """The batch a trade was sold in, if any."""
    row = conn.execute(
        select(trade_batches)
        .join(trade_batch_lines, trade_batch_lines.c.batch_id == trade_batches.c.id)
        .where(trade_batch_lines.c.trade_id == trade_id)
    ).first()
    return None if row is None else _batch(row)


def in_batch(conn: Connection, trade_id: str) -> bool:
    """Whether a trade is a line of a batch (it is from its creation, or never)."""
    found = conn.execute(
        select(trade_batch_lines.c.batch_id).where(trade_batch_lines.c.trade_id == trade_id).limit(1)
    ).first()
    return found is not None


def mark_summarized(conn: Connection, batch_id: str, now: datetime) -> bool:
    """Claim the batch's one summary e-mail; False if it was claimed already."""
    done = conn.execute(
        update(trade_batches)
        .where((trade_batches.c.id == batch_id) & trade_batches.c.summarized_at.is_(None))
        .values(summarized_at=now)
    )
    return done.rowcount == 1
