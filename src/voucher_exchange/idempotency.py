"""Idempotency-Key: the same key and body return the first response; another body is a 409.

Kernel: the API's routes wrap their use case in `run`, which owns that request's one
transaction; this module is the one writer of `idempotency_keys`.

The stored response is written in the same transaction as the work, so a crash
cannot leave work done without its key, or a key without its work.

Bodies carry secrets (voucher codes, PINs, account numbers), so the stored request
hash is the vault's keyed HMAC, never a plain digest a stolen database could be
brute-forced against. Records expire (`Settings.idempotency_ttl_seconds`, 24 h): a
key older than that is forgotten and may be used again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, PendingRollbackError

from voucher_exchange.context import Context
from voucher_exchange.db.retry import CommitOutcomeUnknown, is_transient, is_unavailable
from voucher_exchange.db.schema import idempotency_keys
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import Conflict, DomainError

Result = tuple[int, dict[str, Any]]


def _hash(ctx: Context, method_path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return ctx.vault.fingerprint("idempotency", f"{method_path}\n{canonical}")


def _cutoff(ctx: Context) -> datetime:
    return ctx.clock.now() - timedelta(seconds=ctx.settings.idempotency_ttl_seconds)


def _stored(uow: UnitOfWork, ctx: Context, user_id: str, key: str, request_hash: str) -> Result | None:
    row = uow.conn.execute(
        select(idempotency_keys).where(
            (idempotency_keys.c.user_id == user_id)
            & (idempotency_keys.c.key == key)
            & (idempotency_keys.c.created_at >= _cutoff(ctx))
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise Conflict(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request. Use a new key.",
            "Idempotency-Key",
        )
    return int(row.status_code), dict(row.response_body)


def _stored_now(ctx: Context, user_id: str, key: str, request_hash: str) -> Result | None:
    """The stored response for the key, read in a transaction of its own."""
    with ctx.uow(readonly=True) as uow:
        return _stored(uow, ctx, user_id, key, request_hash)


TRANSIENT_ATTEMPTS = 3


def run(
    ctx: Context,
    user_id: str,
    key: str | None,
    method_path: str,
    body: Any,
    work: Callable[[UnitOfWork], Result],
    keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Result:
    """Do `work` in one transaction, at most once per (user, key); retry what cannot have been stored.

    `keep` says what of the response is stored for a retry (default: all of it): a response
    holding a secret shown once (a webhook signing secret) is stored without it.

    Deadlocks, lock timeouts and a connection lost before COMMIT rolled everything back:
    the work runs again. A connection lost during COMMIT (`CommitOutcomeUnknown`) runs
    again only under a key, whose stored response then answers if the first run was
    stored; without a key it is raised (the API answers 503: the client cannot be told).
    """
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            return _run_once(ctx, user_id, key, method_path, body, work, keep)
        except CommitOutcomeUnknown:
            if key is None or attempt == TRANSIENT_ATTEMPTS:
                raise
        except (DBAPIError, PendingRollbackError) as exc:
            if not (is_transient(exc) or is_unavailable(exc)) or attempt == TRANSIENT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _store(
    uow: UnitOfWork, user_id: str, key: str, method_path: str, request_hash: str, result: Result, ctx: Context
) -> None:
    """Remember the response for this key (the primary key refuses a racing second one).

    The user's expired records go first, so an old key can be used again and nothing
    outlives its time.
    """
    uow.conn.execute(
        delete(idempotency_keys).where(
            (idempotency_keys.c.user_id == user_id) & (idempotency_keys.c.created_at < _cutoff(ctx))
        )
    )
    uow.conn.execute(
        insert(idempotency_keys).values(
            user_id=user_id,
            key=key,
            method_path=method_path,
            request_hash=request_hash,
            status_code=result[0],
            response_body=result[1],
            created_at=ctx.clock.now(),
        )
    )


def _run_once(
    ctx: Context,
    user_id: str,
    key: str | None,
    method_path: str,
    body: Any,
    work: Callable[[UnitOfWork], Result],
    keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Result:
    if key is None:
        with ctx.uow() as uow:
            result = work(uow)
            uow.commit()
        return result
    request_hash = _hash(ctx, method_path, body)
    try:
        with ctx.uow() as uow:
            stored = _stored(uow, ctx, user_id, key, request_hash)
            if stored is not None:
                return stored
            status, response = work(uow)
            kept = keep(response) if keep is not None else response
            _store(uow, user_id, key, method_path, request_hash, (status, kept), ctx)
            uow.commit()
            return status, response
    except (IntegrityError, DomainError):
        # A concurrent request with the same key may have won: answer as it did.
        stored = _stored_now(ctx, user_id, key, request_hash)
        if stored is not None:
            return stored
        raise


def run_outside(
    ctx: Context,
    user_id: str,
    key: str | None,
    method_path: str,
    body: Any,
    work: Callable[[None], Result],
) -> Result:
    """For work that calls the outside world and so cannot sit in one transaction.

    A replay with the key returns the stored response; two racing first requests
    may both run, so use this only where running twice is harmless.
    """
    if key is None:
        return work(None)
    request_hash = _hash(ctx, method_path, body)
    stored = _stored_now(ctx, user_id, key, request_hash)
    if stored is not None:
        return stored
    status, response = work(None)
    try:
        with ctx.uow() as uow:
            _store(uow, user_id, key, method_path, request_hash, (status, response), ctx)
            uow.commit()
    except IntegrityError:
        return _stored_now(ctx, user_id, key, request_hash) or (status, response)
    return status, response


def forget(conn: Connection, user_id: str) -> int:
    """Delete every stored response of a user (account erasure); how many went."""
    gone = conn.execute(delete(idempotency_keys).where(idempotency_keys.c.user_id == user_id)).rowcount
    return int(gone or 0)
