"""Account use cases: sign up, log in, authenticate, staff creation."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from voucher_exchange.accounts import repository
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from voucher_exchange.security.passwords import (
    hash_password,
    new_token,
    token_hash,
    verify_password,
)

MIN_PASSWORD = 10
MAX_PASSWORD = 200
LANGUAGES = ("ko", "en")
# Password guessing: after this many wrong passwords for one e-mail within the window,
# log-ins for it are refused until the window has passed. Counted per e-mail, not per
# address, because behind a proxy every seller shares one address.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_LOGIN_FAILURES = 5


@dataclass(frozen=True)
class Session:
    """A signed-in user and their fresh token (shown once)."""

    user: User
    token: str


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            "password_invalid",
            f"Use a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
            "password",
        )


def sign_up(
    conn: Connection,
    email: str,
    password: str,
    now: datetime,
    roles: set[Role] | None = None,
    language: str = "ko",
    lasts: timedelta | None = None,
) -> Session:
    """Create an account and its first token."""
    _check_password(password)
    email = email.strip().lower()
    if repository.by_email(conn, email) is not None:
        raise Conflict("email_taken", "An account with this e-mail exists. Log in instead.", "email")
    user_id = str(uuid.uuid4())
    try:
        with conn.begin_nested():
            repository.insert_user(
                conn,
                user_id,
                email,
                hash_password(password),
                roles or set(),
                now,
                language if language in LANGUAGES else "ko",
            )
    except IntegrityError as exc:
        raise Conflict("email_taken", "An account with this e-mail exists. Log in instead.", "email") from exc
    return _issue(conn, user_id, now, now + lasts if lasts else None)


def log_in(
    ctx: Context,
    email: str,
    password: str,
    client_ip: str | None = None,
    lasts: timedelta | None = None,
) -> Session:
    """A new token for the right e-mail and password (expiring after `lasts`, if given).

    Throttled after repeated wrong passwords.
    """
    email = email.strip().lower()[:254]
    now = ctx.clock.now()
    with ctx.uow(readonly=True) as uow:
        failures, earliest = repository.login_failures_since(uow.conn, email, now - LOGIN_WINDOW)
        found = repository.by_email(uow.conn, email)
    if failures >= MAX_LOGIN_FAILURES and earliest is not None:
        minutes = max(1, math.ceil((earliest + LOGIN_WINDOW - now).total_seconds() / 60))
        raise TooManyRequests(
            "login_throttled",
            f"Too many wrong passwords for this e-mail. Wait {minutes} minutes and try again.",
        )
    # The hash is checked outside any transaction: it is slow on purpose.
    matches = verify_password(found[1] if found else None, password)
    with ctx.uow() as uow:
        if not matches or found is None:
            repository.add_login_failure(uow.conn, email, client_ip, now)
            uow.commit()
            raise Unauthorized("invalid_credentials", "The e-mail or password is wrong.")
        repository.clear_login_failures(uow.conn, email, now - LOGIN_WINDOW)
        session = _issue(uow.conn, found[0].id, now, now + lasts if lasts else None)
        uow.commit()
    return session


def log_out(conn: Connection, token: str) -> None:
    """End a session: its token stops working."""
    repository.delete_token(conn, token_hash(token))


def set_language(conn: Connection, user: User, language: str) -> None:
    """Remember the language the user reads; e-mails are written in it."""
    if language in LANGUAGES and language != user.language:
        repository.set_language(conn, user.id, language)


def _issue(conn: Connection, user_id: str, now: datetime, expires_at: datetime | None = None) -> Session:
    token = new_token()
    repository.add_token(conn, token_hash(token), user_id, now, expires_at)
    user = repository.by_id(conn, user_id)
    assert user is not None
    return Session(user, token)


def authenticate(conn: Connection, token: str, now: datetime) -> User:
    """The user behind a bearer token that has not expired."""
    user = repository.by_token(conn, token_hash(token), now) if token else None
    if user is None:
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
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
    audit.record(conn, actor.email, "staff.roles", user_id, {"roles": sorted(r.value for r in roles)}, now)
    changed = repository.by_id(conn, user_id)
    assert changed is not None
    return changed


def create_staff(conn: Connection, email: str, password: str, role: Role, now: datetime) -> User:
    """A reviewer or operator account (or add the role to an existing account)."""
    found = repository.by_email(conn, email.strip().lower())
    if found is not None:
        repository.set_roles(conn, found[0].id, set(found[0].roles) | {role})
        user = repository.by_id(conn, found[0].id)
        assert user is not None
        return user
    return sign_up(conn, email, password, now, {role}).user
