"""Account use cases: sign up, log in, authenticate, staff creation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from voucher_exchange.accounts import repository
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.errors import Conflict, InvalidInput, Unauthorized
from voucher_exchange.security.passwords import (
    hash_password,
    new_token,
    token_hash,
    verify_password,
)

MIN_PASSWORD = 10
MAX_PASSWORD = 200


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
    conn: Connection, email: str, password: str, now: datetime, roles: set[Role] | None = None
) -> Session:
    """Create an account and its first token."""
    _check_password(password)
    email = email.strip().lower()
    if repository.by_email(conn, email) is not None:
        raise Conflict("email_taken", "An account with this e-mail exists. Log in instead.", "email")
    user_id = str(uuid.uuid4())
    try:
        with conn.begin_nested():
            repository.insert_user(conn, user_id, email, hash_password(password), roles or set(), now)
    except IntegrityError as exc:
        raise Conflict("email_taken", "An account with this e-mail exists. Log in instead.", "email") from exc
    return _issue(conn, user_id, now)


def log_in(conn: Connection, email: str, password: str, now: datetime) -> Session:
    """A new token for the right e-mail and password."""
    found = repository.by_email(conn, email.strip().lower())
    if not verify_password(found[1] if found else None, password) or found is None:
        raise Unauthorized("invalid_credentials", "The e-mail or password is wrong.")
    return _issue(conn, found[0].id, now)


def _issue(conn: Connection, user_id: str, now: datetime) -> Session:
    token = new_token()
    repository.add_token(conn, token_hash(token), user_id, now)
    user = repository.by_id(conn, user_id)
    assert user is not None
    return Session(user, token)


def authenticate(conn: Connection, token: str) -> User:
    """The user behind a bearer token."""
    user = repository.by_token(conn, token_hash(token)) if token else None
    if user is None:
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
    return user


def create_staff(conn: Connection, email: str, password: str, role: Role, now: datetime) -> User:
    """A reviewer or operator account (or add the role to an existing account)."""
    found = repository.by_email(conn, email.strip().lower())
    if found is not None:
        repository.set_roles(conn, found[0].id, set(found[0].roles) | {role})
        user = repository.by_id(conn, found[0].id)
        assert user is not None
        return user
    return sign_up(conn, email, password, now, {role}).user
