"""Webhook SQL: endpoints, events, deliveries and attempts (this package owns the four tables)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, exists, func, insert, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import webhook_attempts, webhook_deliveries, webhook_endpoints, webhook_events
from voucher_exchange.webhooks.models import Delivery, DeliveryStatus, Endpoint, EndpointStatus

E = webhook_endpoints
D = webhook_deliveries
A = webhook_attempts
V = webhook_events
LIVE = (EndpointStatus.ENABLED.value, EndpointStatus.DISABLED.value)


def _endpoint(row: Row[Any]) -> Endpoint:
    return Endpoint(
        id=row.id,
        user_id=row.user_id,
        url=row.url,
        description=row.description,
        events=list(row.events),
        status=EndpointStatus(row.status),
        secret_enc=row.secret_enc,
        old_secret_enc=row.old_secret_enc,
        old_secret_until=row.old_secret_until,
        failing_since=row.failing_since,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
    )


def add_endpoint(
    conn: Connection,
    endpoint_id: str,
    user_id: str,
    url: str,
    events: list[str],
    description: str | None,
    secret_enc: bytes,
    now: datetime,
) -> None:
    conn.execute(
        insert(E).values(
            id=endpoint_id,
            user_id=user_id,
            url=url,
            description=description,
            events=events,
            status=EndpointStatus.ENABLED.value,
            secret_enc=secret_enc,
            created_at=now,
            updated_at=now,
        )
    )


def endpoint(conn: Connection, endpoint_id: str) -> Endpoint | None:
    row = conn.execute(select(E).where((E.c.id == endpoint_id) & E.c.status.in_(LIVE))).one_or_none()
    return None if row is None else _endpoint(row)


def has_endpoint(user_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the user (a column of another table's statement) has an endpoint that is not
    deleted: without one, none of their events is wanted and `endpoints_of` need not be asked."""
    return exists().where((E.c.user_id == user_id) & E.c.status.in_(LIVE))


def endpoints_of(conn: Connection, user_id: str) -> list[Endpoint]:
    """The user's endpoints (not deleted), oldest first; few per account, one indexed read."""
    return [_endpoint(r) for r in conn.execute(_ENDPOINTS_OF, {"owner": user_id})]


_ENDPOINTS_OF = (  # built once: every trade event asks
    select(E)
    .where((E.c.user_id == bindparam("owner")) & E.c.status.in_(LIVE))
    .order_by(E.c.created_at, E.c.id)
)


def delete_endpoint(conn: Connection, endpoint_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(E)
        .where((E.c.id == endpoint_id) & E.c.status.in_(LIVE))
        .values(status=EndpointStatus.DELETED.value, updated_at=now)
    )
    return bool(result.rowcount)


def rotate_secret(
    conn: Connection,
    endpoint_id: str,
    secret_enc: bytes,
    old_enc: bytes | None,
    old_until: datetime | None,
    now: datetime,
) -> None:
    conn.execute(
        update(E)
        .where(E.c.id == endpoint_id)
        .values(secret_enc=secret_enc, old_secret_enc=old_enc, old_secret_until=old_until, updated_at=now)
    )


def mark_failing(conn: Connection, endpoint_id: str, now: datetime) -> None:
    """Remember when the endpoint started failing (the first failure since its last success)."""
    conn.execute(
        update(E)
        .where((E.c.id == endpoint_id) & E.c.failing_since.is_(None))
        .values(failing_since=now, updated_at=now)
    )


def mark_healthy(conn: Connection, endpoint_id: str, now: datetime) -> None:
    conn.execute(
        update(E)
        .where((E.c.id == endpoint_id) & E.c.failing_since.is_not(None))
        .values(failing_since=None, updated_at=now)
    )


def disable(conn: Connection, endpoint_id: str, reason: str, now: datetime) -> bool:
    """Enabled → disabled; False when it was not enabled (someone else disabled or deleted it)."""
    result = conn.execute(
        update(E)
        .where((E.c.id == endpoint_id) & (E.c.status == EndpointStatus.ENABLED.value))
        .values(status=EndpointStatus.DISABLED.value, disabled_reason=reason, updated_at=now)
    )
    return bool(result.rowcount)


def add_event(
    conn: Connection, user_id: str, event_id: str, event_type: str, body: str, now: datetime
) -> None:
    conn.execute(insert(V).values(id=event_id, user_id=user_id, type=event_type, body=body, created_at=now))


def event(conn: Connection, event_id: str) -> Row[Any] | None:
    return conn.execute(select(V).where(V.c.id == event_id)).one_or_none()


def events_since(conn: Connection, user_id: str, endpoint_id: str, since: datetime) -> list[Row[Any]]:
    """The user's events since `since`, oldest first, each with whether it went to this endpoint."""
    sent = (
        select(D.c.id)
        .where((D.c.event_id == V.c.id) & (D.c.endpoint_id == endpoint_id))
        .exists()
        .label("sent_here")
    )
    return list(
        conn.execute(
            select(V.c.id, V.c.type, sent)
            .where((V.c.user_id == user_id) & (V.c.created_at >= since))
            .order_by(V.c.created_at, V.c.id)
        )
    )


def add_delivery(conn: Connection, endpoint_id: str, event_id: str, now: datetime) -> str | None:
    """A new pending delivery; None when this event already has one to this endpoint."""
    delivery_id = str(uuid.uuid4())
    values = {
        "id": delivery_id,
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
    inserted = insert_ignore(conn, D, values, ["endpoint_id", "event_id"])
    return delivery_id if inserted else None


def delivery(conn: Connection, delivery_id: str) -> Delivery | None:
    row = conn.execute(select(D).where(D.c.id == delivery_id)).one_or_none()
    if row is None:
        return None
    return Delivery(row.id, row.endpoint_id, row.event_id, DeliveryStatus(row.status), int(row.attempts))


def delivery_for(conn: Connection, endpoint_id: str, event_id: str) -> Delivery | None:
    row = conn.execute(
        select(D.c.id).where((D.c.endpoint_id == endpoint_id) & (D.c.event_id == event_id))
    ).one_or_none()
    return None if row is None else delivery(conn, row.id)


def reopen(conn: Connection, delivery_id: str, now: datetime) -> int:
    """Make a delivery pending again (a replay); the number of its next attempt."""
    conn.execute(
        update(D)
        .where(D.c.id == delivery_id)
        .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, updated_at=now)
    )
    return int(conn.execute(select(D.c.attempts).where(D.c.id == delivery_id)).scalar_one()) + 1


def record_attempt(
    conn: Connection,
    found: Delivery,
    attempt: int,
    status: DeliveryStatus,
    status_code: int | None,
    error: str | None,
    now: datetime,
    next_attempt_at: datetime | None,
) -> bool:
    """Write attempt `attempt`'s outcome once: False when it was recorded already (a stale worker)."""
    result = conn.execute(
        update(D)
        .where(
            (D.c.id == found.id)
            & (D.c.attempts == attempt - 1)
            & (D.c.status == DeliveryStatus.PENDING.value)
        )
        .values(attempts=attempt, status=status.value, next_attempt_at=next_attempt_at, updated_at=now)
    )
    if not result.rowcount:
        return False
    conn.execute(
        insert(A).values(
            id=str(uuid.uuid4()),
            delivery_id=found.id,
            endpoint_id=found.endpoint_id,
            event_id=found.event_id,
            attempt=attempt,
            status_code=status_code,
            error=(error or None) and error[:200],
            at=now,
            next_attempt_at=next_attempt_at,
        )
    )
    return True


def attempts_log(conn: Connection, endpoint_id: str, limit: int) -> list[Row[Any]]:
    """The endpoint's attempts, newest first, with each event's type."""
    return list(
        conn.execute(
            select(A, V.c.type)
            .join(V, V.c.id == A.c.event_id)
            .where(A.c.endpoint_id == endpoint_id)
            .order_by(A.c.at.desc(), A.c.attempt.desc())
            .limit(limit)
        )
    )


def pending_count(conn: Connection, endpoint_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(D)
            .where((D.c.endpoint_id == endpoint_id) & (D.c.status == DeliveryStatus.PENDING.value))
        ).scalar_one()
    )
