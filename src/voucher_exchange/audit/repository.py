"""Audit SQL: append to the chain under the head row's lock, read entries and heads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from voucher_exchange.audit.chain import GENESIS, Entry
from voucher_exchange.db.dialect import insert_ignore, locked
from voucher_exchange.db.schema import audit_chain_head, audit_log

HEAD_ROW = 1
_BATCH = 1000


def lock_head(conn: Connection) -> tuple[int | None, str]:
    """The chain head (last id, hash), locked until the transaction ends.

    On PostgreSQL `FOR UPDATE` makes a second appender wait here until the first one
    commits, then read the head that one wrote; the entry's id is drawn after the lock,
    so ids follow the chain. SQLite's write transactions (BEGIN IMMEDIATE) are serial already.
    """
    insert_ignore(conn, audit_chain_head, {"id": HEAD_ROW, "last_id": None, "hash": GENESIS}, ["id"])
    row = conn.execute(locked(conn, select(audit_chain_head).where(audit_chain_head.c.id == HEAD_ROW))).one()
    return (None if row.last_id is None else int(row.last_id)), str(row.hash)


def append(
    conn: Connection,
    values: dict[str, Any],
    prev_hash: str,
    entry_hash: str,
) -> int:
    """Insert one entry and move the head to it; the caller holds the head's lock."""
    new_id = conn.execute(
        insert(audit_log).values(**values, prev_hash=prev_hash, hash=entry_hash).returning(audit_log.c.id)
    ).scalar_one()
    conn.execute(
        update(audit_chain_head)
        .where(audit_chain_head.c.id == HEAD_ROW)
        .values(last_id=int(new_id), hash=entry_hash)
    )
    return int(new_id)


def recorded_head(conn: Connection) -> tuple[int | None, str] | None:
    """The head as last recorded (last id, hash), or None before the first append."""
    row = conn.execute(select(audit_chain_head).where(audit_chain_head.c.id == HEAD_ROW)).first()
    if row is None:
        return None
    return (None if row.last_id is None else int(row.last_id)), str(row.hash)


def _entry(row: Any) -> Entry:
    return Entry(
        id=int(row.id),
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        details=row.details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def entries(conn: Connection, upto: int | None = None) -> Iterator[Entry]:
    """Every entry in id order (up to and including id `upto`, when given), read in batches."""
    after = None
    while True:
        query = select(audit_log).order_by(audit_log.c.id).limit(_BATCH)
        if upto is not None:
            query = query.where(audit_log.c.id <= upto)
        if after is not None:
            query = query.where(audit_log.c.id > after)
        rows = conn.execute(query).all()
        for row in rows:
            yield _entry(row)
        if len(rows) < _BATCH:
            return
        after = int(rows[-1].id)


def count(conn: Connection) -> int:
    """How many entries the log holds."""
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def recent(conn: Connection, limit: int, action: str | None) -> list[Any]:
    """The newest entries first, optionally of one action."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if action:
        query = query.where(audit_log.c.action == action)
    return list(conn.execute(query))
