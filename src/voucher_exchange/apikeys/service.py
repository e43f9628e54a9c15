"""API key use cases: create, list, roll, revoke (each audited and mailed) and authenticate.

Revocation is immediate on every API process because nothing is cached: each request looks the
key up by its keyed hash (one indexed read), so a revoked, rolled-out or expired key fails on the
very next request wherever it arrives.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import User
from voucher_exchange.apikeys import repository
from voucher_exchange.apikeys.models import (
    API_KEY_MAIL,
    DEFAULT_OVERLAP,
    KEY_MARK,
    MAX_ACTIVE_KEYS,
    MAX_ALLOWED_IPS,
    MAX_LIFETIME,
    MAX_NAME,
    PREFIX_CHARS,
    TOUCH_EVERY,
    ApiKey,
    KeyEvent,
    Scope,
    address_allowed,
    needs_touch,
    parse_networks,
)
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from voucher_exchange.jobs import queue
from voucher_exchange.security import throttle
from voucher_exchange.security.vault import Vault

_HASH_NAMESPACE = "api_key"


@dataclass(frozen=True)
class NewKey:
    """A key just made, and its secret (shown once, never stored)."""

    key: ApiKey
    secret: str


@dataclass(frozen=True)
class KeyRequest:
    """What the owner asked for when creating a key."""

    name: str
    scopes: tuple[Scope, ...]
    allowed_ips: tuple[str, ...]
    expires_at: datetime | None


def key_hash(vault: Vault, secret: str) -> str:
    """How a key is stored and looked up: a keyed hash (a stolen table cannot be tried offline)."""
    return vault.fingerprint(_HASH_NAMESPACE, secret)


def _unauthorized() -> Unauthorized:
    return Unauthorized("unauthorized", "This API key is not valid: it is unknown, revoked or expired.")


def parse_request(
    name: str, scopes: list[Scope], allowed_ips: list[str] | None, expires_at: datetime | None, now: datetime
) -> KeyRequest:
    """Check what the owner asked for; InvalidInput names the field at fault."""
    # The API's schema refuses these before; a web form can send them empty.
    if not name.strip() or len(name.strip()) > MAX_NAME:
        raise InvalidInput(
            "api_key_name_required", f"Give the key a name of up to {MAX_NAME} characters.", "name"
        )
    if not scopes:
        raise InvalidInput("scopes_required", "Choose at least one scope the key may use.", "scopes")
    networks = parse_networks(allowed_ips or [])
    if networks is None or len(networks) > MAX_ALLOWED_IPS:
        raise InvalidInput(
            "invalid_cidr",
            f"allowed_ips takes up to {MAX_ALLOWED_IPS} networks such as 203.0.113.0/24 or 2001:db8::/32.",
            "allowed_ips",
        )
    if expires_at is not None and not now < expires_at <= now + MAX_LIFETIME:
        raise InvalidInput(
            "invalid_expiry", "expires_at must be in the future, and within ten years.", "expires_at"
        )
    return KeyRequest(name.strip(), tuple(dict.fromkeys(scopes)), networks, expires_at)


def _issue(
    conn: Connection, vault: Vault, user_id: str, wanted: KeyRequest, now: datetime, key_id: str | None = None
) -> NewKey:
    secret = KEY_MARK + secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id or str(uuid.uuid4()),
        user_id=user_id,
        name=wanted.name,
        prefix=secret[:PREFIX_CHARS],
        scopes=wanted.scopes,
        allowed_ips=wanted.allowed_ips,
        created_at=now,
        expires_at=wanted.expires_at,
        last_used_at=None,
        revoked_at=None,
        replaced_by=None,
    )
    repository.add(conn, key, key_hash(vault, secret))
    return NewKey(key, secret)


def _record(conn: Connection, user: User, event: KeyEvent, key: ApiKey, now: datetime, **extra: Any) -> None:
    """Audit the event and mail the owner, in the caller's transaction (the prefix only, never the key)."""
    details: dict[str, Any] = {
        "key_id": key.id,
        "prefix": key.prefix,
        "name": key.name,
        "scopes": [s.value for s in key.scopes],
        "allowed_ips": list(key.allowed_ips),
        **extra,
    }
    audit.record(conn, f"user:{user.id}", f"api_key.{event.value}", user.id, details, now)
    queue.enqueue(conn, API_KEY_MAIL, f"{event.value}:{key.id}", now)


def create_key(
    ctx: Context,
    user: User,
    name: str,
    scopes: list[Scope],
    allowed_ips: list[str] | None,
    expires_at: datetime | None,
) -> NewKey:
    """Use case: a new key for the signed-in account (audited, mailed)."""
    now = ctx.clock.now()
    wanted = parse_request(name, scopes, allowed_ips, expires_at, now)
    with ctx.uow() as uow:
        # The account's row lock serialises key creation, so the cap cannot be raced past.
        accounts.by_id(uow.conn, user.id, lock=True)
        if repository.count_active(uow.conn, user.id, now) >= MAX_ACTIVE_KEYS:
            raise Conflict(
                "too_many_api_keys", f"An account may hold {MAX_ACTIVE_KEYS} working keys. Revoke one first."
            )
        made = _issue(uow.conn, ctx.vault, user.id, wanted, now)
        _record(uow.conn, user, KeyEvent.CREATED, made.key, now)
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return made


def list_keys(ctx: Context, user: User) -> list[ApiKey]:
    """The account's keys, newest first (never a secret)."""
    with ctx.uow(readonly=True) as uow:
        return repository.list_of_user(uow.conn, user.id)


def roll_key(ctx: Context, user: User, key_id: str, overlap: timedelta | None) -> NewKey:
    """Use case: replace a key by a new one with the same name, scopes, allow-list and expiry.

    The old key keeps working for the overlap (default 24 hours, never past its own expiry).
    """
    now = ctx.clock.now()
    with ctx.uow() as uow:
        old = repository.of_user(uow.conn, user.id, key_id)
        if old is None:
            raise NotFound("api_key_unknown", "There is no such API key of yours.")
        wanted = KeyRequest(old.name, old.scopes, old.allowed_ips, old.expires_at)
        ends_at = now + (DEFAULT_OVERLAP if overlap is None else overlap)
        if old.expires_at is not None:
            ends_at = min(ends_at, old.expires_at)
        successor_id = str(uuid.uuid4())
        # Conditional: of two rolls at once, one wins; a revoked, expired or rolled key is refused.
        if not repository.retire(uow.conn, old.id, successor_id, ends_at, now):
            raise Conflict(
                "api_key_inactive",
                "This key was revoked, has expired or was already rolled: roll its successor.",
            )
        made = _issue(uow.conn, ctx.vault, user.id, wanted, now, key_id=successor_id)
        _record(
            uow.conn, user, KeyEvent.ROLLED, old, now, successor=successor_id, ends_at=ends_at.isoformat()
        )
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return made


def revoke_key(ctx: Context, user: User, key_id: str) -> None:
    """Use case: the key stops working now, on every API process (audited, mailed); again is a no-op."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        key = repository.of_user(uow.conn, user.id, key_id)
        if key is None:
            raise NotFound("api_key_unknown", "There is no such API key of yours.")
        if repository.revoke(uow.conn, user.id, key.id, now):
            _record(uow.conn, user, KeyEvent.REVOKED, key, now)
            uow.after_commit(ctx.wake_workers)
        uow.commit()


def authenticate(ctx: Context, secret: str, scope: Scope | None, client_ip: str | None) -> User:
    """The account behind a working key allowed `scope` from `client_ip`; counted against the key's limit.

    401 when the key is unknown, revoked or expired; 403 `ip_not_allowed` from an address outside
    its allow-list; 403 `insufficient_scope` when the route needs a scope it lacks (`scope` None:
    the route is never open to keys).
    """
    now = ctx.clock.now()
    with ctx.uow(readonly=True) as uow:
        key = repository.by_hash(uow.conn, key_hash(ctx.vault, secret))
        user = accounts.by_id(uow.conn, key.user_id) if key is not None else None
    if key is None or user is None or not key.active(now):
        raise _unauthorized()
    if not address_allowed(key.allowed_ips, client_ip):
        raise Forbidden("ip_not_allowed", "This API key may not be used from this address.")
    if scope is None or scope not in key.scopes:
        needed = f"the {scope.value} scope" if scope else "a signed-in session, not an API key"
        raise Forbidden("insufficient_scope", f"This request needs {needed}.")
    throttle.hit(ctx, throttle.api_key(key.id, ctx.settings.api_key_requests_per_minute))
    if needs_touch(key.last_used_at, now):
        with ctx.uow() as uow:
            repository.touch(uow.conn, key.id, now, now - TOUCH_EVERY)
            uow.commit()
    return user


def erase_of(conn: Connection, user_id: str) -> int:
    """Delete every key of an account being erased, in the caller's transaction; how many."""
    return repository.erase_of_user(conn, user_id)
