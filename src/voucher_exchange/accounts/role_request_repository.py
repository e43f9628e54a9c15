"""Role request SQL: one operator asks, another approves (`role_requests`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from voucher_exchange.accounts.models import RoleRequest, RoleRequestStatus, roles_from_text, roles_text
from voucher_exchange.db.dialect import locked
from voucher_exchange.db.schema import role_requests, users


def _to_request(row: Any) -> RoleRequest:
    return RoleRequest(
        id=row.id,
        target_user_id=row.target_user_id,
        email=row.email,
        roles_before=roles_from_text(row.roles_before),
        roles_after=roles_from_text(row.roles_after),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        status=RoleRequestStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def add(conn: Connection, request: RoleRequest) -> None:
    """Store a new, pending request."""
    conn.execute(
        insert(role_requests).values(
            id=request.id,
            target_user_id=request.target_user_id,
            email=request.email,
            roles_before=roles_text(request.roles_before),
            roles_after=roles_text(request.roles_after),
            requested_by=request.requested_by,
            requested_at=request.requested_at,
            expires_at=request.expires_at,
            status=request.status.value,
        )
    )


def get(conn: Connection, request_id: str, lock: bool = False) -> RoleRequest | None:
    """One request (locked for the approval when `lock`)."""
    query = select(role_requests).where(role_requests.c.id == request_id)
    row = conn.execute(locked(conn, query) if lock else query).first()
    return _to_request(row) if row else None


def close(
    conn: Connection, request_id: str, status: RoleRequestStatus, decided_by: str, now: datetime
) -> bool:
    """Approve or decline a request still pending and unexpired; False when it no longer is."""
    result = conn.execute(
        update(role_requests)
        .where(
            (role_requests.c.id == request_id)
            & (role_requests.c.status == RoleRequestStatus.PENDING.value)
            & (role_requests.c.expires_at > now)
        )
        .values(status=status.value, decided_by=decided_by, decided_at=now)
    )
    return result.rowcount == 1


def pending(conn: Connection, now: datetime) -> list[tuple[RoleRequest, str]]:
    """Pending, unexpired requests, oldest first, each with the requester's e-mail."""
    rows = conn.execute(
        select(role_requests, users.c.email.label("requester_email"))
        .join(users, users.c.id == role_requests.c.requested_by)
        .where(
            (role_requests.c.status == RoleRequestStatus.PENDING.value) & (role_requests.c.expires_at > now)
        )
        .order_by(role_requests.c.requested_at, role_requests.c.id)
    )
    return [(_to_request(r), r.requester_email) for r in rows]


def count_operators(conn: Connection) -> int:
    """How many live accounts hold the operator role."""
    held = users.c.roles.like("%operator%") & users.c.deleted_at.is_(None)
    return int(conn.execute(select(func.count()).select_from(users).where(held)).scalar_one())


def forget_email(conn: Connection, user_id: str, tombstone: str) -> None:
    """An erased account's address leaves the requests about it (the ids and roles stay: who had what)."""
    conn.execute(
        update(role_requests).where(role_requests.c.target_user_id == user_id).values(email=tombstone)
    )
