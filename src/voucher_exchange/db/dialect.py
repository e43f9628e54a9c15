"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from voucher_exchange.db import changes


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> bool:
    """INSERT … ON CONFLICT (keys) DO NOTHING; True when this call inserted the row."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(table.c[keys[0]])
    )
    # RETURNING, not rowcount: psycopg reports -1 (truthy) when ON CONFLICT skipped the row.
    return conn.execute(stmt).first() is not None


def insert_ignore_and_notify(
    conn: Connection, table: Table, values: dict[str, Any], keys: list[str], channel: str
) -> bool:
    """`insert_ignore`, then `notify(channel)` whether or not it inserted; on PostgreSQL one
    statement (`WITH added AS (INSERT … RETURNING …) SELECT …, pg_notify(…)`)."""
    if conn.dialect.name != "postgresql":
        inserted = insert_ignore(conn, table, values, keys)
        notify(conn, channel)
        return inserted
    added = (
        postgresql.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(table.c[keys[0]])
        .cte("added")
    )
    stmt = select(
        select(func.count()).select_from(added).scalar_subquery().label("inserted"),
        func.pg_notify(channel, "").label("notified"),
    )
    return bool(conn.execute(stmt).scalar_one())


def locked(conn: Connection, query: Select[Any], skip_locked: bool = False) -> Select[Any]:
    """`query … FOR UPDATE [SKIP LOCKED]` on PostgreSQL.

    SQLite needs no row locks: every write transaction starts with BEGIN IMMEDIATE and
    holds the database's single write lock, so select-then-update is already atomic.
    """
    if conn.dialect.name != "postgresql":
        return query
    return query.with_for_update(skip_locked=skip_locked)


def notify(conn: Connection, channel: str) -> None:
    """Wake listeners once this transaction commits: PostgreSQL NOTIFY; on SQLite, listeners
    in this process (db/changes.py; workers in another process poll)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})
    else:
        changes.mark(conn, notified(channel))


def notified(channel: str) -> str:
    """The db/changes key a SQLite `notify` on `channel` marks."""
    return f"notify:{channel}"


def upsert(conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET every other given column (one statement)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    changed = {name: stmt.excluded[name] for name in values if name not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changed))
