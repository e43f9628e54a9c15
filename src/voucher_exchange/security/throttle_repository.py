"""Rate-limit counter SQL (one upsert per attempt)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, update
from sqlalchemy.dialects import postgresql, sqlite

from voucher_exchange.db.schema import rate_counters


def increment(conn: Connection, name: str, subject: str, window_start: datetime) -> int:
    """Add one to the window's counter and return the new count (atomic on both databases)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(rate_counters)
        .values(name=name, subject=subject, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=["name", "subject", "window_start"],
            set_={"count": rate_counters.c.count + 1},
        )
        .returning(rate_counters.c.count)
    )
    count = int(conn.execute(stmt).scalar_one())
    if count == 1:
        # A new window: the subject's older windows are of no further use.
        conn.execute(
            delete(rate_counters).where(
                (rate_counters.c.name == name)
                & (rate_counters.c.subject == subject)
                & (rate_counters.c.window_start < window_start)
            )
        )
    return count


def decrement(conn: Connection, name: str, subject: str, window_start: datetime) -> None:
    """Take one back from the window's counter."""
    conn.execute(
        update(rate_counters)
        .where(
            (rate_counters.c.name == name)
            & (rate_counters.c.subject == subject)
            & (rate_counters.c.window_start == window_start)
            & (rate_counters.c.count > 0)
        )
        .values(count=rate_counters.c.count - 1)
    )
