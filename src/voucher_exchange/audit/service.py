"""Audit use cases: record a staff action, read the log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from voucher_exchange.db.schema import audit_log


def record(
    conn: Connection, actor: str, action: str, subject: str, details: dict[str, Any], now: datetime
) -> None:
    """Append one entry in the caller's transaction (never a secret in `details`)."""
    conn.execute(
        insert(audit_log).values(at=now, actor=actor, action=action, subject=subject[:100], details=details)
    )


def recent(conn: Connection, limit: int = 200, action: str | None = None) -> list[Any]:
    """The newest entries first, optionally of one action."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if action:
        query = query.where(audit_log.c.action == action)
    return list(conn.execute(query))
