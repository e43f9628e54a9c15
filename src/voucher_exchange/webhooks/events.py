"""The one door for writing webhook events: capabilities call `record` in the transaction of their change.

An event is written only when the account has an endpoint (enabled or disabled, not deleted)
subscribed to its type: most accounts have none, and then a change costs one indexed read. In
the same transaction a delivery is created for each enabled subscribed endpoint, with its first
attempt's job (an outbox): a change that rolls back leaves no event, one that commits cannot
lose its event.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.jobs import queue
from voucher_exchange.webhooks import repository as repo
from voucher_exchange.webhooks.models import DELIVER, Endpoint, EndpointStatus, EventType, iso


def record(
    conn: Connection, user_id: str, event_type: EventType, data: dict[str, Any], now: datetime
) -> str | None:
    """Write the event (body built once, here) and its deliveries; its id, or None when no one listens."""
    subscribed = [e for e in repo.endpoints_of(conn, user_id) if e.subscribes(event_type.value)]
    if not subscribed:
        return None
    return _write(conn, user_id, event_type, data, now, subscribed)


def wanted(conn: Connection, user_id: str, event_type: EventType) -> bool:
    """Whether `record` would write this event (lets a caller skip building an expensive payload)."""
    return any(e.subscribes(event_type.value) for e in repo.endpoints_of(conn, user_id))


def record_test(conn: Connection, endpoint: Endpoint, now: datetime) -> str:
    """A `webhook.test` event for one endpoint only."""
    data = {"endpoint_id": endpoint.id, "message": "This is a test event from voucher-exchange."}
    return _write(conn, endpoint.user_id, EventType.WEBHOOK_TEST, data, now, [endpoint])


def _write(
    conn: Connection,
    user_id: str,
    event_type: EventType,
    data: dict[str, Any],
    now: datetime,
    endpoints: list[Endpoint],
) -> str:
    event_id = "evt_" + uuid.uuid4().hex
    body = {"id": event_id, "type": event_type.value, "created_at": iso(now), "data": data}
    repo.add_event(conn, user_id, event_id, event_type.value, json.dumps(body, separators=(",", ":")), now)
    for endpoint in endpoints:
        if endpoint.status is EndpointStatus.ENABLED:
            start(conn, endpoint.id, event_id, now)
    return event_id


def start(conn: Connection, endpoint_id: str, event_id: str, now: datetime) -> None:
    """A delivery of the event to the endpoint (or the existing one made pending again), due now."""
    delivery_id = repo.add_delivery(conn, endpoint_id, event_id, now)
    if delivery_id is not None:
        attempt = 1
    else:
        found = repo.delivery_for(conn, endpoint_id, event_id)
        assert found is not None  # the unique key said it exists
        delivery_id = found.id
        attempt = repo.reopen(conn, delivery_id, now)
    queue.enqueue(conn, DELIVER, f"{delivery_id}:{attempt}", now)
