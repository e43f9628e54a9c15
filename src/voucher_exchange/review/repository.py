"""Review SQL: requests to reveal a voucher code, their approvals, and who saw which code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from voucher_exchange.db.dialect import locked
from voucher_exchange.db.schema import reveal_requests, users


class RevealStatus(StrEnum):
    """Where a request to see a voucher's code stands."""

    PENDING = "pending"
    """Asked; waits for a second staff member with reveal_codes (unanswered, it expires)."""
    APPROVED = "approved"
    """Approved by someone else; the requester may reveal the code once, before it expires."""
    REVEALED = "revealed"
    """The requester saw the code (a redeemed voucher's code needs no approval, but is a row too)."""


@dataclass(frozen=True)
class RevealRequest:
    """One staff member's request to see a trade's code."""

    id: str
    trade_id: str
    requested_by: str
    requested_by_email: str
    requested_at: datetime
    expires_at: datetime
    status: RevealStatus
    approved_by: str | None


def _to_request(row: Any) -> RevealRequest:
    return RevealRequest(
        row.id, row.trade_id, row.requested_by, row.requester_email, row.requested_at, row.expires_at,
        RevealStatus(row.status), row.approved_by,
    )  # fmt: skip


def _with_requester() -> Any:
    # A subquery, not a join: a locked read then locks the request alone, never the user.
    email = select(users.c.email).where(users.c.id == reveal_requests.c.requested_by).scalar_subquery()
    return select(reveal_requests, email.label("requester_email"))


def add(
    conn: Connection,
    request_id: str,
    trade_id: str,
    user_id: str,
    now: datetime,
    expires_at: datetime,
    status: RevealStatus,
) -> None:
    """Store a request (or, for a redeemed voucher, the reveal itself)."""
    conn.execute(
        insert(reveal_requests).values(
            id=request_id,
            trade_id=trade_id,
            requested_by=user_id,
            requested_at=now,
            expires_at=expires_at,
            status=status.value,
            revealed_at=now if status is RevealStatus.REVEALED else None,
        )
    )


def get(conn: Connection, request_id: str, lock: bool = False) -> RevealRequest | None:
    """One request (locked for its approval when `lock`)."""
    query = _with_requester().where(reveal_requests.c.id == request_id)
    row = conn.execute(locked(conn, query) if lock else query).first()
    return _to_request(row) if row else None


def open_for(conn: Connection, trade_id: str, now: datetime) -> list[RevealRequest]:
    """A trade's requests still pending or approved and unexpired, oldest first."""
    c = reveal_requests.c
    rows = conn.execute(
        _with_requester()
        .where(
            (c.trade_id == trade_id)
            & c.status.in_([RevealStatus.PENDING.value, RevealStatus.APPROVED.value])
            & (c.expires_at > now)
        )
        .order_by(c.requested_at, c.id)
    )
    return [_to_request(r) for r in rows]


def approve(conn: Connection, request_id: str, approver_id: str, now: datetime) -> bool:
    """Approve a pending, unexpired request; False when it no longer is one."""
    c = reveal_requests.c
    result = conn.execute(
        update(reveal_requests)
        .where((c.id == request_id) & (c.status == RevealStatus.PENDING.value) & (c.expires_at > now))
        .values(status=RevealStatus.APPROVED.value, approved_by=approver_id, approved_at=now)
    )
    return result.rowcount == 1


def use_approval(conn: Connection, trade_id: str, user_id: str, now: datetime) -> RevealRequest | None:
    """Spend the user's approved, unexpired request for this trade (once); None when there is none."""
    c = reveal_requests.c
    found = conn.execute(
        locked(
            conn,
            _with_requester()
            .where(
                (c.trade_id == trade_id)
                & (c.requested_by == user_id)
                & (c.status == RevealStatus.APPROVED.value)
                & (c.expires_at > now)
            )
            .order_by(c.approved_at)
            .limit(1),
        )
    ).first()
    if found is None:
        return None
    spent = conn.execute(
        update(reveal_requests)
        .where((c.id == found.id) & (c.status == RevealStatus.APPROVED.value))
        .values(status=RevealStatus.REVEALED.value, revealed_at=now)
    )
    return _to_request(found) if spent.rowcount == 1 else None


def has_revealed(conn: Connection, trade_id: str, user_id: str) -> bool:
    """True when the user saw this trade's code."""
    c = reveal_requests.c
    query = select(c.id).where(
        (c.trade_id == trade_id) & (c.requested_by == user_id) & (c.status == RevealStatus.REVEALED.value)
    )
    return conn.execute(query.limit(1)).first() is not None
