"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from voucher_exchange.db import changes


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> bool:
    """INSERT … ON CONFLICT (keys) DO NOTHING; True when this call inserted the row."""
    stmt = _statement(conn, "ignore", table, values, keys)
    # RETURNING, not rowcount: psycopg reports -1 (truthy) when ON CONFLICT skipped the row.
    return conn.execute(stmt, _bound(values)).first() is not None


def insert_ignore_and_notify(
    conn: Connection, table: Table, values: dict[str, Any], keys: list[str], channel: str
) -> bool:
    """`insert_ignore`, then `notify(channel)` whether or not it inserted; on PostgreSQL one
    statement (`WITH added AS (INSERT … RETURNING …) SELECT …, pg_notify(…)`)."""
    if conn.dialect.name != "postgresql":
        inserted = insert_ignore(conn, table, values, keys)
        notify(conn, channel)
        return inserted
    stmt = _statement(conn, "ignore_and_notify", table, values, keys)
    return bool(conn.execute(stmt, {**_bound(values), "channel": channel}).scalar_one())


# Statements built once per (database, kind, table, columns given, conflict keys): building and
# cache-keying one per call, with its values in it, cost more CPU than running it.
_BUILT: dict[tuple[str, str, Table, tuple[str, ...], tuple[str, ...]], Any] = {}


def _statement(conn: Connection, kind: str, table: Table, values: dict[str, Any], keys: list[str]) -> Any:
    shape = (conn.dialect.name, kind, table, tuple(sorted(values)), tuple(keys))
    built = _BUILT.get(shape)
    if built is None:
        built = _BUILT[shape] = _build(conn.dialect.name, kind, table, shape[3], keys)
    return built


def _build(dialect_name: str, kind: str, table: Table, columns: tuple[str, ...], keys: list[str]) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    # Bind names differ from column names: SQLAlchemy keeps those for its own VALUES binds.
    stmt = dialect.insert(table).values({c: bindparam(f"v_{c}", type_=table.c[c].type) for c in columns})
    if kind == "upsert":
        changed = {name: stmt.excluded[name] for name in columns if name not in keys}
        return stmt.on_conflict_do_update(index_elements=keys, set_=changed)
    ignored = stmt.on_conflict_do_nothing(index_elements=keys).returning(table.c[keys[0]])
    if kind == "ignore":
        return ignored
    added = ignored.cte("added")
    return select(
        select(func.count()).select_from(added).scalar_subquery().label("inserted"),
        func.pg_notify(bindparam("channel"), "").label("notified"),
    )


def _bound(values: dict[str, Any]) -> dict[str, Any]:
    return {f"v_{name}": value for name, value in values.items()}


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
    conn.execute(_statement(conn, "upsert", table, values, keys), _bound(values))
