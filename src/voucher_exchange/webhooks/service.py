"""Endpoint use cases for a seller: add, list, read, delete, rotate the secret, read the log, replay, test.

Each use case owns its transaction. The routes that call them need the `webhooks:manage` scope
once API keys land; until then the seller's session token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from voucher_exchange import idempotency
from voucher_exchange.accounts.models import User
from voucher_exchange.context import Context
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import InvalidInput, NotFound
from voucher_exchange.webhooks import events, signing
from voucher_exchange.webhooks import repository as repo
from voucher_exchange.webhooks.delivery import secret_context
from voucher_exchange.webhooks.models import (
    DEFAULT_OVERLAP_HOURS,
    MAX_OVERLAP_HOURS,
    SUBSCRIBABLE,
    Endpoint,
    EndpointStatus,
    iso,
)

MAX_ENDPOINTS = 10
LOG_LIMIT = 200


@dataclass(frozen=True)
class NewEndpoint:
    """A seller's request to receive events at a URL."""

    url: str
    events: list[str]
    description: str | None = None


def _checked_events(wanted: list[str]) -> list[str]:
    unknown = sorted(set(wanted) - {e.value for e in SUBSCRIBABLE})
    if unknown or not wanted:
        raise InvalidInput(
            "webhook_event_unknown",
            "Choose events from: "
            + ", ".join(sorted(e.value for e in SUBSCRIBABLE))
            + (f" (unknown: {', '.join(unknown)})." if unknown else "."),
            "events",
        )
    return sorted(set(wanted))


def create(ctx: Context, user: User, cmd: NewEndpoint, key: str | None = None) -> dict[str, Any]:
    """Add an endpoint; the answer carries its signing secret, the only time it is shown.

    Under an `Idempotency-Key` a retry answers with the same endpoint and `secret: null`: the
    secret is never stored where a replay could show it (rotate it if the first answer was lost).
    """
    chosen = _checked_events(cmd.events)
    assert ctx.webhooks is not None
    ctx.webhooks.check_url(cmd.url)  # resolves the host: before the transaction opens
    secret = signing.new_secret()
    now = ctx.clock.now()

    def work(uow: UnitOfWork) -> idempotency.Result:
        if len(repo.endpoints_of(uow.conn, user.id)) >= MAX_ENDPOINTS:
            raise InvalidInput(
                "webhook_endpoint_limit", f"An account can have at most {MAX_ENDPOINTS} endpoints.", "url"
            )
        endpoint_id = str(uuid.uuid4())
        enc = ctx.vault.encrypt(secret.encode(), secret_context(endpoint_id))
        repo.add_endpoint(uow.conn, endpoint_id, user.id, cmd.url, chosen, cmd.description, enc, now)
        found = repo.endpoint(uow.conn, endpoint_id)
        assert found is not None
        return 201, found.public() | {"secret": secret}

    body = {"url": cmd.url, "events": chosen, "description": cmd.description}
    _, answer = idempotency.run(ctx, user.id, key, "POST /webhook-endpoints", body, work, _without_secret)
    return answer


def _without_secret(answer: dict[str, Any]) -> dict[str, Any]:
    """What a retry under the same Idempotency-Key is answered: all but the secret."""
    return answer | {"secret": None}


def _own(ctx: Context, user: User, endpoint_id: str, conn: Any) -> Endpoint:
    found = repo.endpoint(conn, endpoint_id[:64])
    if found is None or found.user_id != user.id:
        raise NotFound("webhook_endpoint_unknown", "There is no such webhook endpoint.")
    return found


def list_own(ctx: Context, user: User) -> list[dict[str, Any]]:
    """The seller's endpoints (never a secret)."""
    with ctx.uow(readonly=True) as uow:
        return [e.public() for e in repo.endpoints_of(uow.conn, user.id)]


def get_own(ctx: Context, user: User, endpoint_id: str) -> dict[str, Any]:
    """One of the seller's endpoints."""
    with ctx.uow(readonly=True) as uow:
        return _own(ctx, user, endpoint_id, uow.conn).public()


def delete(ctx: Context, user: User, endpoint_id: str) -> None:
    """Remove an endpoint: nothing more is sent to it."""
    with ctx.uow() as uow:
        found = _own(ctx, user, endpoint_id, uow.conn)
        repo.delete_endpoint(uow.conn, found.id, ctx.clock.now())
        uow.commit()


def rotate_secret(
    ctx: Context, user: User, endpoint_id: str, overlap_hours: int | None, key: str | None = None
) -> str | None:
    """A new secret; the old one keeps signing too (two signatures) for `overlap_hours` (default 24).

    A retry under the same `Idempotency-Key` rotates nothing more and answers None: the new
    secret is shown once (rotate again, with a new key, if the first answer was lost).
    """
    hours = DEFAULT_OVERLAP_HOURS if overlap_hours is None else overlap_hours
    if not 0 <= hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(
            "overlap_invalid", f"The overlap is 0 to {MAX_OVERLAP_HOURS} hours.", "overlap_hours"
        )
    secret = signing.new_secret()
    now = ctx.clock.now()

    def work(uow: UnitOfWork) -> idempotency.Result:
        found = _own(ctx, user, endpoint_id, uow.conn)
        enc = ctx.vault.encrypt(secret.encode(), secret_context(found.id))
        repo.rotate_secret(uow.conn, found.id, enc, found.secret_enc, now + timedelta(hours=hours), now)
        return 201, {"secret": secret}

    path = f"POST /webhook-endpoints/{endpoint_id[:64]}/rotate-secret"
    _, answer = idempotency.run(ctx, user.id, key, path, {"overlap_hours": hours}, work, _without_secret)
    shown: str | None = answer["secret"]
    return shown


def deliveries(ctx: Context, user: User, endpoint_id: str) -> list[dict[str, Any]]:
    """The endpoint's delivery log: every attempt, newest first."""
    with ctx.uow(readonly=True) as uow:
        found = _own(ctx, user, endpoint_id, uow.conn)
        rows = repo.attempts_log(uow.conn, found.id, LOG_LIMIT)
    return [
        {
            "id": r.id,
            "event_id": r.event_id,
            "type": r.type,
            "attempt": r.attempt,
            "status_code": r.status_code,
            "error": r.error,
            "at": iso(r.at),
            "next_attempt_at": iso(r.next_attempt_at),
        }
        for r in rows
    ]


def replay(ctx: Context, user: User, endpoint_id: str, since: datetime, key: str | None = None) -> int:
    """Deliver again every stored event since `since` that the endpoint subscribes to or was sent
    (its test events), with the same event ids; how many (once per `Idempotency-Key`)."""
    now = ctx.clock.now()

    def work(uow: UnitOfWork) -> idempotency.Result:
        found = _own(ctx, user, endpoint_id, uow.conn)
        if since > now:
            raise InvalidInput("replay_since_invalid", "Replay starts at a time in the past.", "since")
        _require_enabled(found)
        # What it subscribes to, and what was sent to it before (its test events).
        since_rows = repo.events_since(uow.conn, user.id, found.id, since)
        chosen = [r for r in since_rows if r.sent_here or found.subscribes(r.type)]
        for row in chosen:
            events.start(uow.conn, found.id, row.id, now)
        uow.after_commit(ctx.wake_workers)
        return 202, {"events": len(chosen)}

    path = f"POST /webhook-endpoints/{endpoint_id[:64]}/replay"
    _, answer = idempotency.run(ctx, user.id, key, path, {"since": iso(since)}, work)
    count: int = answer["events"]
    return count


def _require_enabled(found: Endpoint) -> None:
    if found.status is not EndpointStatus.ENABLED:
        raise InvalidInput(
            "webhook_endpoint_disabled",
            "This endpoint is disabled; add it again to receive events.",
            None,
        )


def send_test(ctx: Context, user: User, endpoint_id: str, key: str | None = None) -> str:
    """A `webhook.test` event to this endpoint only; its event id (once per `Idempotency-Key`)."""
    now = ctx.clock.now()

    def work(uow: UnitOfWork) -> idempotency.Result:
        found = _own(ctx, user, endpoint_id, uow.conn)
        _require_enabled(found)
        event_id = events.record_test(uow.conn, found, now)
        uow.after_commit(ctx.wake_workers)
        return 202, {"event_id": event_id}

    path = f"POST /webhook-endpoints/{endpoint_id[:64]}/test"
    _, answer = idempotency.run(ctx, user.id, key, path, {}, work)
    event_id: str = answer["event_id"]
    return event_id


def forget_account(conn: Connection, user_id: str, now: datetime) -> int:
    """An erased account's endpoints are deleted (nothing more is sent); how many."""
    return sum(repo.delete_endpoint(conn, e.id, now) for e in repo.endpoints_of(conn, user_id))
