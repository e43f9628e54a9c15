"""Rate-limit counter SQL (one upsert per request, whatever its number of limits)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, delete, text, update

from voucher_exchange.db.schema import rate_counters

Window = tuple[str, str, datetime]
"""(limit name, subject, window start): one counter."""


def increment(conn: Connection, windows: list[Window]) -> list[int]:
    """Add one to each window's counter; the new counts, in order (atomic on both databases).

    One statement for all of them (a request's limits are counted together), built once
    per number of windows. A subject's older windows are of no further use once a new one
    opens: on PostgreSQL the same statement deletes them; SQLite deletes them after it, when
    a window is new.
    """
    postgresql = conn.dialect.name == "postgresql"
    statement = _increment(len(windows), postgresql)
    params: dict[str, Any] = {}
    for i, (name, subject, start) in enumerate(windows):
        params |= {f"name_{i}": name, f"subject_{i}": subject, f"start_{i}": start}
    counts = {(name, subject): int(count) for name, subject, count in conn.execute(statement, params)}
    for name, subject, start in windows:
        if counts[name, subject] == 1 and not postgresql:
            # A new window: the subject's older windows are of no further use.
            conn.execute(
                delete(rate_counters).where(
                    (rate_counters.c.name == name)
                    & (rate_counters.c.subject == subject)
                    & (rate_counters.c.window_start < start)
                )
            )
    return [counts[name, subject] for name, subject, _ in windows]


@cache
def _increment(n: int, postgresql: bool) -> TextClause:
    # SQL text: SQLAlchemy gives a multi-row INSERT … ON CONFLICT no cache key, so it would
    # compile it on every request.
    start_type = rate_counters.c.window_start.type
    upsert = (
        " ON CONFLICT (name, subject, window_start) DO UPDATE SET count = rate_counters.count + 1"
        " RETURNING name, subject, count"
    )
    if postgresql:
        # The window's type is bound with its value (SQLAlchemy casts it: `::TIMESTAMP`).
        given = ", ".join(f"(:name_{i}, :subject_{i}, :start_{i})" for i in range(n))
        sql = (
            f"WITH given (name, subject, window_start) AS (VALUES {given}),"  # noqa: S608  # no input in it
            " older AS (DELETE FROM rate_counters r USING given g WHERE r.name = g.name"
            " AND r.subject = g.subject AND r.window_start < g.window_start)"
            " INSERT INTO rate_counters (name, subject, window_start, count)"
            " SELECT name, subject, window_start, 1 FROM given" + upsert
        )
    else:
        rows = ", ".join(f"(:name_{i}, :subject_{i}, :start_{i}, 1)" for i in range(n))
        sql = f"INSERT INTO rate_counters (name, subject, window_start, count) VALUES {rows}" + upsert  # noqa: S608
    return text(sql).bindparams(*(bindparam(f"start_{i}", type_=start_type) for i in range(n)))


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
