"""Account use cases: sign up, log in, authenticate, staff creation."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from voucher_exchange.accounts import recovery, repository, two_factor
from voucher_exchange.accounts.models import LinkPurpose, Notice, RevokeReason, Role, SignedIn, User
from voucher_exchange.accounts.sessions import revoke_other_sessions
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, TooManyRequests, Unauthorized
from voucher_exchange.security import password_policy, throttle
from voucher_exchange.security.input_policy import parse_email
from voucher_exchange.security.passwords import (
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import Acceptance

LANGUAGES = ("ko", "en")
KIND_API = "api"
KIND_WEB = "web"
# An API token's expiry is pushed on at most once a day, so reads stay reads.
REFRESH_EVERY = timedelta(days=1)
DEFAULT_API_TOKEN_LASTS = timedelta(days=30)
SECOND_STEP_LASTS = timedelta(minutes=5)


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
    user_id = _insert(conn, email, password_hash, now, roles, language)
    return _issue(conn, user_id, now, expires_at, kind)


def _insert(
    conn: Connection, email: str, password_hash: str, now: datetime, roles: set[Role], language: str
) -> str:
    user_id = str(uuid.uuid4())
    try:
        with conn.begin_nested():
            repository.insert_user(
                conn, user_id, email, password_hash, roles, now, language if language in LANGUAGES else "ko"
            )
    except IntegrityError as exc:
        raise _email_taken() from exc
    return user_id


def register(
    ctx: Context,
    email: str,
    password: str,
    client_ip: str | None,
    language: str = "ko",
    lasts: timedelta | None = None,
    consents: Acceptance | None = None,
) -> Session:
    """A seller signs up (web or API): throttled per address and e-mail, policy-checked.

    `lasts` makes the token a web session of that length; without it, an API token.
    `consents` (the versions the seller accepted) are stored with the account, in its transaction.
    """
    email = parse_email(email)
    throttle.hit(ctx, *throttle.sign_up(email, client_ip))
    password_policy.check(password, email)
    with ctx.uow(readonly=True) as uow:
        taken = repository.by_email(uow.conn, email) is not None
    if taken:
        raise _email_taken()
    # Slow on purpose, so outside any transaction.
    password_hash = _sign_up_hash(ctx, password, email, client_ip)
    now = ctx.clock.now()
    expires_at, kind = _lifetime(now, lasts, _api_lasts(ctx))
    with ctx.uow() as uow:
        session = _create(uow.conn, email, password_hash, now, set(), language, expires_at, kind)
        if consents is not None:
            trust.record_consents(uow.conn, session.user.id, email, consents, now)
        recovery.issue_link(uow.conn, ctx.vault, session.user.id, LinkPurpose.VERIFY_EMAIL, email, now)
        uow.commit()
    ctx.wake_workers()
    return session


def _sign_up_hash(ctx: Context, password: str, email: str, client_ip: str | None) -> str:
    """The password's hash; a sign-up turned away as `server_busy` is given back its counted attempt.

    The answer tells the client to retry in a second: a retry that does as it is told must not
    use up the e-mail's sign-ups (5 an hour) and lock the address out for the rest of the hour.
    """
    try:
        return hash_password(password)
    except TooManyRequests as busy:
        if busy.code == "server_busy":
            for limit, parts in throttle.sign_up(email, client_ip):
                throttle.refund(ctx, limit, *parts)
        raise


def register_quietly(
    ctx: Context,
    email: str,
    password: str,
    client_ip: str | None,
    language: str,
    consents: Acceptance | None = None,
) -> None:
    """A sign-up that does not say whether the address has an account (the web's).

    A new address gets an account and a verification link (following it signs in); an
    address with an account gets a notice instead. Both cost the same work, hash included.
    """
    email = parse_email(email)
    throttle.hit(ctx, *throttle.sign_up(email, client_ip))
    password_policy.check(password, email)
    with ctx.uow(readonly=True) as uow:
        found = repository.by_email(uow.conn, email)
    password_hash = _sign_up_hash(ctx, password, email, client_ip)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if found is not None:
            recovery.notify(uow.conn, found[0].id, Notice.SIGN_UP_ATTEMPT, now)
        else:
            try:
                user_id = _insert(uow.conn, email, password_hash, now, set(), language)
            except Conflict:
                return  # signed up a moment ago by another request: same answer
            if consents is not None:
                trust.record_consents(uow.conn, user_id, email, consents, now)
            recovery.issue_link(uow.conn, ctx.vault, user_id, LinkPurpose.VERIFY_EMAIL, email, now)
        uow.commit()
    ctx.wake_workers()


def start_session(ctx: Context, user: User, lasts: timedelta) -> Session:
    """A new web session for a user who proved who they are another way (a mailed link)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = _issue(uow.conn, user.id, now, now + lasts, KIND_WEB)
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
    totp: str | None = None,
    web_step: bool = False,
) -> Session:
    """A new token for the right e-mail and password: a web session of `lasts`, else an API token.

    Staff with two-factor also need a code (`totp`); without one, `TotpRequired`, carrying a
    ticket for the second step when `web_step`.

    Every attempt is counted (per address, and per e-mail and address) before the password
    is checked; a success takes its own attempt back, never the others.
    """
    email = email.strip().lower()[:254]
    with ctx.uow(readonly=True) as uow:
        found = repository.by_email(uow.conn, email)
    generation = found[0].password_generation if found else "-"
    throttle.hit(ctx, *throttle.login(email, client_ip, generation))
    # The hash is checked outside any transaction: it is slow on purpose.
    matches = verify_password(found[1] if found else None, password)
    if not matches or found is None:
        raise Unauthorized("invalid_credentials", "The e-mail or password is wrong.")
    throttle.refund(ctx, throttle.LOGIN_PER_ACCOUNT_AND_IP, email, client_ip, generation)
    user = found[0]
    # Only a token issued after a right code reaches staff routes, whatever is decided here.
    second_factor = False
    if user.is_staff and two_factor.enrolled(ctx, user.id):
        if not totp:
            raise two_factor.TotpRequired(_pending_step(ctx, user) if web_step else None)
        two_factor.check_code(ctx, user, totp)
        second_factor = True
    return _start(ctx, user, lasts, second_factor, client_ip)


def _start(
    ctx: Context,
    user: User,
    lasts: timedelta | None,
    second_factor: bool = False,
    client_ip: str | None = None,
) -> Session:
    now = ctx.clock.now()
    expires_at, kind = _lifetime(now, lasts, _api_lasts(ctx))
    with ctx.uow() as uow:
        session = _issue(uow.conn, user.id, now, expires_at, kind, second_factor, client_ip)
        uow.commit()
    return session


def _pending_step(ctx: Context, user: User) -> str:
    """A five-minute, single-use ticket that the password was right (the web's second step)."""
    token = "vxs_" + secrets.token_urlsafe(32)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        repository.add_link(
            uow.conn,
            recovery.digest(ctx.vault, token),
            user.id,
            LinkPurpose.SIGN_IN_STEP,
            user.email,
            b"",
            now,
            now + SECOND_STEP_LASTS,
        )
        uow.commit()
    return token


def finish_log_in(
    ctx: Context, pending: str, code: str, lasts: timedelta, client_ip: str | None = None
) -> Session:
    """The web's second step: the ticket from the password step and a code give a session."""
    token_hash = recovery.digest(ctx.vault, pending)
    now = ctx.clock.now()
    with ctx.uow(readonly=True) as uow:
        found = repository.link(uow.conn, token_hash)
        user = repository.by_id(uow.conn, found.user_id) if found else None
    if (
        found is None
        or user is None
        or found.purpose is not LinkPurpose.SIGN_IN_STEP
        or found.used_at is not None
        or found.expires_at <= now
    ):
        raise Unauthorized("sign_in_expired", "Your sign-in took too long. Log in again.")
    two_factor.check_code(ctx, user, code)
    with ctx.uow() as uow:
        if not repository.use_link(uow.conn, token_hash, LinkPurpose.SIGN_IN_STEP, now):
            raise Unauthorized("sign_in_expired", "Your sign-in took too long. Log in again.")
        uow.commit()
    return _start(ctx, user, lasts, second_factor=True, client_ip=client_ip)


def log_out(conn: Connection, token: str) -> None:
    """End a session: its token stops working."""
    repository.delete_token(conn, token_hash(token))


def log_out_everywhere(conn: Connection, user: User, now: datetime) -> int:
    """End every session and API token of the user; how many ended."""
    ended = repository.delete_tokens_of(conn, user.id)
    audit.record(conn, user.email, "account.sign_out_everywhere", user.id, {"tokens": ended}, now)
    return ended


def sign_out(ctx: Context, token: str) -> None:
    """Use case: end this session (its token stops working)."""
    with ctx.uow() as uow:
        log_out(uow.conn, token)
        uow.commit()


def sign_out_everywhere(ctx: Context, user: User) -> int:
    """Use case: end every session and API token of the user (audited); how many ended."""
    with ctx.uow() as uow:
        ended = log_out_everywhere(uow.conn, user, ctx.clock.now())
        uow.commit()
    return ended


def change_language(ctx: Context, user: User, language: str) -> None:
    """Use case: the signed-in user reads another language; their e-mails follow."""
    with ctx.uow() as uow:
        set_language(uow.conn, user, language)
        uow.commit()


def set_language(conn: Connection, user: User, language: str) -> None:
    """Remember the language the user reads; e-mails are written in it."""
    if language in LANGUAGES and language != user.language:
        repository.set_language(conn, user.id, language)


def _issue(
    conn: Connection,
    user_id: str,
    now: datetime,
    expires_at: datetime,
    kind: str,
    second_factor: bool = False,
    client_ip: str | None = None,
) -> Session:
    token = new_token()
    repository.add_token(conn, token_hash(token), user_id, now, expires_at, kind, second_factor, client_ip)
    user = repository.by_id(conn, user_id)
    assert user is not None
    return Session(user, token)


def authenticate(conn: Connection, token: str, now: datetime) -> User:
    """The user behind a bearer token that has not expired."""
    return signed_in(conn, token, now).user


def signed_in(conn: Connection, token: str, now: datetime) -> SignedIn:
    """The user behind an unexpired token, and whether the token passed the second factor."""
    found = repository.by_token(conn, token_hash(token), now) if token else None
    if found is None:
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
    return SignedIn(found.user, found.second_factor)


def authenticate_api(ctx: Context, token: str) -> User:
    """The user behind an unexpired bearer token; an API token in use has its expiry pushed on."""
    return authenticate_api_session(ctx, token).user


def authenticate_api_session(ctx: Context, token: str) -> SignedIn:
    """As `authenticate_api`, also saying whether the token passed the second factor (staff routes)."""
    now = ctx.clock.now()
    with ctx.uow(readonly=True) as uow:
        found = repository.by_token(uow.conn, token_hash(token), now) if token else None
    if found is None:
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
    renewed = now + _api_lasts(ctx)
    if found.kind == KIND_API and renewed - found.expires_at >= REFRESH_EVERY:
        with ctx.uow() as uow:
            repository.extend_token(uow.conn, token_hash(token), renewed)
            uow.commit()
    return SignedIn(found.user, found.second_factor)


def api_user_unchanged(ctx: Context, conn: Connection, token: str) -> User | None:
    """The user behind a session token when using it stores nothing: one read on `conn`.

    None when the token is unknown, expired, or due to have its expiry pushed on:
    `authenticate_api` then refuses or renews it. Lets a read share its transaction with
    the sign-in check (the API's conditional GET).
    """
    now = ctx.clock.now()
    found = repository.by_token(conn, token_hash(token), now) if token else None
    if found is None or (
        found.kind == KIND_API and now + _api_lasts(ctx) - found.expires_at >= REFRESH_EVERY
    ):
        return None
    return found.user


def list_staff(conn: Connection) -> list[User]:
    """Everyone holding a role."""
    return repository.staff(conn)


def create_staff(
    conn: Connection, email: str, password: str, role: Role, now: datetime, actor: str | None = None
) -> User:
    """A reviewer or operator account (or add the role to an existing account), with no second approver.

    Only for the machine's first operators (`role_requests.bootstrap_staff`), the demo and tests:
    staff change roles through `role_requests` (one operator asks, another approves).
    With `actor`, the audit log records the roles before and after.
    """
    found = repository.by_email(conn, email.strip().lower())
    before: list[str] = []
    if found is not None:
        before = sorted(r.value for r in found[0].roles)
        repository.set_roles(conn, found[0].id, set(found[0].roles) | {role})
        if role not in found[0].roles:
            revoke_other_sessions(conn, found[0].id, RevokeReason.ROLES_CHANGED, actor or "worker", now)
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
