"""Audit use cases: append an entry to the hash chain, read the log, verify the chain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.audit import chain
from voucher_exchange.audit import repository as audit_repo

MAX_SUBJECT = 100


def record(
    conn: Connection, actor: str, action: str, subject: str, details: dict[str, Any], now: datetime
) -> None:
    """Append one entry in the caller's transaction (never a secret in `details`).

    Takes the chain head's lock until the caller's transaction ends, so call it late in
    the transaction: appenders queue behind each other, never fork the chain.
    """
    subject = subject[:MAX_SUBJECT]
    _, prev_hash = audit_repo.lock_head(conn)
    entry_hash = chain.link(prev_hash, chain.canonical(actor, action, subject, details, now))
    audit_repo.append(
        conn,
        {"at": now, "actor": actor, "action": action, "subject": subject, "details": details},
        prev_hash,
        entry_hash,
    )


def record_change(
    conn: Connection,
    actor: str,
    action: str,
    subject: str,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
    **context: Any,
) -> None:
    """Append an operator's change with the values before and after it (the log shows "before → after").

    Both sit in `details`, which the chain hashes: new entries are covered, old ones verify unchanged.
    """
    record(conn, actor, action, subject, {"before": before, "after": after, **context}, now)


def recent(conn: Connection, limit: int = 200, action: str | None = None) -> list[Any]:
    """The newest entries first, optionally of one action."""
    return audit_repo.recent(conn, limit, action)


def verify(conn: Connection, progress: Callable[[int], None] | None = None) -> chain.Verdict:
    """Walk the whole chain (read-only); `progress` is told how many entries were read so far."""

    def counted() -> Any:
        for n, entry in enumerate(audit_repo.entries(conn), start=1):
            if progress is not None and n % 500 == 0:
                progress(n)
            yield entry

    return chain.verify(counted(), audit_repo.recorded_head(conn))


def count(conn: Connection) -> int:
    """How many entries the log holds."""
    return audit_repo.count(conn)


def current_head(conn: Connection) -> tuple[int | None, str]:
    """The head right now (last entry id, hash); the genesis hash while the log is empty."""
    return audit_repo.recorded_head(conn) or (None, chain.GENESIS)
