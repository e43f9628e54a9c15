"""Account use cases: sign up, log in, authenticate, staff creation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from voucher_exchange.accounts import repository
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, NotFound, Unauthorized
from voucher_exchange.security import password_policy, throttle
from voucher_exchange.security.input_policy import parse_email
from voucher_exchange.security.passwords import (
    hash_password,
    new_token,
    token_hash,
    verify_password,
)

LANGUAGES = ("ko", "en")
KIND_API = "api"
KIND_WEB = "web"
# An API token's expiry is pushed on at most once a day, so reads stay reads.
REFRESH_EVERY = timedelta(days=1)
DEFAULT_API_TOKEN_LASTS = timedelta(days=30)


@dataclass(frozen=True)
class Session:
    """A signed-in user and their fresh token (shown once)."""

    user: User
    token: str


def _email_taken() -> Conflict:
    return Conflict("email_taken", "An account with this e-mail exists. Log in instead.", "email")


def sign_up(
    conn: Connection,
    email: str,
    password: str,
    now: datetime,
    roles: set[Role] | None = None,
    language: str = "ko",
    lasts: timedelta | None = None,
) -> Session:
    """Create an account and its first token, inside the caller's transaction (staff, scripts).

    People signing up on the site or the API go through `register`, which is throttled and
    hashes outside the transaction.
    """
    email = email.strip().lower()
    password_policy.check(password, email)
    if repository.by_email(conn, email) is not None:
        raise _email_taken()
    expires_at, kind = _lifetime(now, lasts, DEFAULT_API_TOKEN_LASTS)
    return _create(conn, email, hash_password(password), now, roles or set(), language, expires_at, kind)


def _lifetime(now: datetime, web_lasts: timedelta | None, api_lasts: timedelta) -> tuple[datetime, str]:
    """(expiry, kind): a web session when its length is given, else an API token."""
    if web_lasts is not None:
        return now + web_lasts, KIND_WEB
    return now + api_lasts, KIND_API


def _create(
    conn: Connection,
    email: str,
    password_hash: str,
    now: datetime,
    roles: set[Role],
    language: str,
    expires_at: datetime,
    kind: str,
) -> Session:
    user_id = str(uuid.uuid4())
    try:
        with conn.begin_nested():
            repository.insert_user(
                conn, user_id, email, password_hash, roles, now, language if language in LANGUAGES else "ko"
            )
    except IntegrityError as exc:
        raise _email_taken() from exc
    return _issue(conn, user_id, now, expires_at, kind)


def register(
    ctx: Context,
    email: str,
    password: str,
    client_ip: str | None,
    language: str = "ko",
    lasts: timedelta | None = None,
) -> Session:
    """A seller signs up (web or API): throttled per address and e-mail, policy-checked.

    `lasts` makes the token a web session of that length; without it, an API token.
    """
    email = parse_email(email)
    throttle.hit(ctx, *throttle.sign_up(email, client_ip))
    password_policy.check(password, email)
    with ctx.uow(readonly=True) as uow:
        taken = repository.by_email(uow.conn, email) is not None
    if taken:
        raise _email_taken()
    # Slow on purpose, so outside any transaction.
    password_hash = hash_password(password)
    now = ctx.clock.now()
    expires_at, kind = _lifetime(now, lasts, _api_lasts(ctx))
    with ctx.uow() as uow:
        session = _create(uow.conn, email, password_hash, now, set(), language, expires_at, kind)
        uow.commit()
    return session


def _api_lasts(ctx: Context) -> timedelta:
    return timedelta(days=ctx.settings.api_token_days)


def log_in(
    ctx: Context,
    email: str,
    password: str,
    client_ip: str | None = None,
    lasts: timedelta | None = None,
) -> Session:
    """A new token for the right e-mail and password: a web session of `lasts`, else an API token.

    Every attempt is counted (per address, and per e-mail and address) before the password
    is checked; a success takes its own attempt back, never the others.
    """
    email = email.strip().lower()[:254]
    throttle.hit(ctx, *throttle.login(email, client_ip))
    with ctx.uow(readonly=True) as uow:
        found = repository.by_email(uow.conn, email)
    # The hash is checked outside any transaction: it is slow on purpose.
    matches = verify_password(found[1] if found else None, password)
    if not matches or found is None:
        raise Unauthorized("invalid_credentials", "The e-mail or password is wrong.")
    throttle.refund(ctx, throttle.LOGIN_PER_ACCOUNT_AND_IP, email, client_ip)
    now = ctx.clock.now()
    expires_at, kind = _lifetime(now, lasts, _api_lasts(ctx))
    with ctx.uow() as uow:
        session = _issue(uow.conn, found[0].id, now, expires_at, kind)
        uow.commit()
    return session


def log_out(conn: Connection, token: str) -> None:
    """End a session: its token stops working."""
    repository.delete_token(conn, token_hash(token))


def log_out_everywhere(conn: Connection, user: User, now: datetime) -> int:
    """End every session and API token of the user; how many ended."""
    ended = repository.delete_tokens_of(conn, user.id)
    audit.record(conn, user.email, "account.sign_out_everywhere", user.id, {"tokens": ended}, now)
    return ended


def set_language(conn: Connection, user: User, language: str) -> None:
    """Remember the language the user reads; e-mails are written in it."""
    if language in LANGUAGES and language != user.language:
        repository.set_language(conn, user.id, language)


def _issue(conn: Connection, user_id: str, now: datetime, expires_at: datetime, kind: str) -> Session:
    token = new_token()
    repository.add_token(conn, token_hash(token), user_id, now, expires_at, kind)
    user = repository.by_id(conn, user_id)
    assert user is not None
    return Session(user, token)


def authenticate(conn: Connection, token: str, now: datetime) -> User:
    """The user behind a bearer token that has not expired."""
    found = repository.by_token(conn, token_hash(token), now) if token else None
    if found is None:
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
    return found[0]


def authenticate_api(ctx: Context, token: str) -> User:
    """The user behind an unexpired bearer token; an API token in use has its expiry pushed on."""
    now = ctx.clock.now()
    with ctx.uow(readonly=True) as uow:
        found = repository.by_token(uow.conn, token_hash(token), now) if token else None
    if found is None:
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
    user, kind, expires_at = found
    renewed = now + _api_lasts(ctx)
    if kind == KIND_API and renewed - expires_at >= REFRESH_EVERY:
        with ctx.uow() as uow:
            repository.extend_token(uow.conn, token_hash(token), renewed)
            uow.commit()
    return user


def list_staff(conn: Connection) -> list[User]:
    """Everyone holding a role."""
    return repository.staff(conn)


def set_roles(conn: Connection, actor: User, user_id: str, roles: set[Role], now: datetime) -> User:
    """Replace a staff member's roles (an operator cannot remove their own operator role)."""
    target = repository.by_id(conn, user_id)
    if target is None:
        raise NotFound("user_unknown", "There is no such account.")
    if target.id == actor.id and Role.OPERATOR not in roles:
        raise Conflict("cannot_demote_self", "You cannot take away your own operator role.")
    repository.set_roles(conn, user_id, roles)
    audit.record_change(
        conn,
        actor.email,
        "staff.roles",
        user_id,
        {"roles": sorted(r.value for r in target.roles)},
        {"roles": sorted(r.value for r in roles)},
        now,
    )
    changed = repository.by_id(conn, user_id)
    assert changed is not None
    return changed


def create_staff(
    conn: Connection, email: str, password: str, role: Role, now: datetime, actor: str | None = None
) -> User:
    """A reviewer or operator account (or add the role to an existing account).

    With `actor`, the audit log records the roles before and after.
    """
    found = repository.by_email(conn, email.strip().lower())
    before: list[str] = []
    if found is not None:
        before = sorted(r.value for r in found[0].roles)
        repository.set_roles(conn, found[0].id, set(found[0].roles) | {role})
        user = repository.by_id(conn, found[0].id)
        assert user is not None
    else:
        user = sign_up(conn, email, password, now, {role}).user
    if actor is not None:
        after = sorted(r.value for r in user.roles)
        audit.record_change(
            conn, actor, "staff.add", user.id, {"roles": before}, {"roles": after}, now, role=role.value
        )
    return user
