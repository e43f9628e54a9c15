"""Request-scoped helpers: the context, the signed-in user, the reader's language.

Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in
the threadpool, one hop per dependency. Hot routes authenticate inside their one hop
(`as_user`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy import Connection
from sqlalchemy.pool import QueuePool
from starlette.concurrency import run_in_threadpool

from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.api.scopes import Route, required_scope, route_template
from voucher_exchange.apikeys import service as api_keys
from voucher_exchange.apikeys.models import is_key
from voucher_exchange.context import Context
from voucher_exchange.db.engine import is_sqlite
from voucher_exchange.db.retry import again_if_lost
from voucher_exchange.errors import Forbidden, Unauthorized
from voucher_exchange.security import throttle

T = TypeVar("T")


async def context(request: Request) -> Context:
    """The process's Context."""
    ctx: Context = request.app.state.ctx
    return ctx


async def client_ip(request: Request) -> str | None:
    """The peer's address (the proxy's, unless the server is told to trust forwarded headers)."""
    return request.client.host if request.client else None


@dataclass(frozen=True)
class Bearer:
    """A request's bearer credential, with what an API key is checked against: route and address."""

    token: str
    route: Route
    client_ip: str | None


async def bearer_token(
    request: Request, authorization: Annotated[str | None, Header(max_length=400)] = None
) -> Bearer:
    """The credential of `Authorization: Bearer <token>`: a session token or an API key."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
    template = route_template(request.scope) or request.url.path
    token = authorization.removeprefix("Bearer ").strip()
    return Bearer(token, (request.method, template), await client_ip(request))


def authenticate(ctx: Context, bearer: Bearer) -> User:
    """The user behind a session token, or behind an API key allowed this route from this address.

    A key is told from a session token by its mark (`vxk_`), so neither costs the other a lookup.
    """
    if is_key(bearer.token):
        scope = required_scope(bearer.route)
        # Reads, then at most a conditional last-used stamp: safe to run again when the database
        # connection was lost (a restart) before anything was stored.
        return again_if_lost(lambda: api_keys.authenticate(ctx, bearer.token, scope, bearer.client_ip))
    return again_if_lost(lambda: accounts.authenticate_api(ctx, bearer.token))


def current_user(request: Request, bearer: Annotated[Bearer, Depends(bearer_token)]) -> User:
    """The user behind `Authorization: Bearer <token>` (an API token's expiry moves on with use)."""
    ctx: Context = request.app.state.ctx
    return authenticate(ctx, bearer)


async def as_user(ctx: Context, bearer: Bearer, work: Callable[[User], T]) -> T:
    """Authenticate the credential and run `work(user)`, both in one threadpool hop."""
    return await run_in_threadpool(lambda: work(authenticate(ctx, bearer)))


async def as_user_narrow(
    ctx: Context, bearer: Bearer, narrow: Callable[[Connection, User], T | None], work: Callable[[User], T]
) -> T:
    """`narrow(conn, user)` in one read-only transaction with the sign-in check; `work(user)` when it
    answers None (or the credential is an API key, or a session token due for renewal).

    On SQLite the narrow reads run on the event loop: a read never waits for a lock there (WAL),
    and a thread hop costs more than the read. Elsewhere (PostgreSQL: network round trips) it
    runs in the threadpool, `work` in the same hop.
    """
    if is_key(bearer.token):
        return await as_user(ctx, bearer, work)
    if _reads_inline(ctx):
        answered = _narrow(ctx, bearer.token, narrow)
        if answered is not None:
            return answered
        return await as_user(ctx, bearer, work)

    def both() -> T:
        answered = again_if_lost(lambda: _narrow(ctx, bearer.token, narrow))
        return answered if answered is not None else work(authenticate(ctx, bearer))

    return await run_in_threadpool(both)


async def as_user_limited(
    ctx: Context,
    bearer: Bearer,
    checks: Callable[[User], tuple[throttle.Check, ...]],
    work: Callable[[User], T],
) -> T:
    """Authenticate, count `checks(user)` (abuse limits, committed before the work), run `work(user)`:
    one threadpool hop, the sign-in read inside the counting's transaction for a session token."""

    def counted() -> T:
        user = None
        if not is_key(bearer.token):
            user = throttle.hit_after(
                ctx, lambda conn: accounts.api_user_unchanged(ctx, conn, bearer.token), checks
            )
        if user is None:  # an API key, a token due for renewal, or one refused: as before
            user = authenticate(ctx, bearer)
            throttle.hit(ctx, *checks(user))
        return work(user)

    return await run_in_threadpool(counted)


def _narrow(ctx: Context, token: str, narrow: Callable[[Connection, User], T | None]) -> T | None:
    with ctx.uow(readonly=True) as uow:
        user = accounts.api_user_unchanged(ctx, uow.conn, token)
        return None if user is None else narrow(uow.conn, user)


def _reads_inline(ctx: Context) -> bool:
    """SQLite, and a pooled connection idle (taking one never waits)."""
    pool = ctx.engine.pool
    return is_sqlite(ctx.engine) and isinstance(pool, QueuePool) and pool.checkedin() > 0


async def lang(accept_language: Annotated[str | None, Header(max_length=200)] = None) -> str:
    """ "ko" when the reader prefers Korean, else "en"."""
    return "ko" if (accept_language or "").strip().lower().startswith("ko") else "en"


def require(role: Role):  # type: ignore[no-untyped-def]
    """A dependency that admits only users holding `role` with a token that passed the second factor.

    A plain def: the checks read the DB. A token issued without a two-factor code (before
    enrolment, say) is refused with `totp_session_required`; staff who have not enrolled
    get `totp_enrolment_required` (two_factor.check_staff_session).
    """

    def check(request: Request, bearer: Annotated[Bearer, Depends(bearer_token)]) -> User:
        ctx: Context = request.app.state.ctx
        if is_key(bearer.token):
            raise Forbidden("insufficient_scope", "Staff routes take a signed-in session, never an API key.")
        signed = accounts.authenticate_api_session(ctx, bearer.token)
        if not signed.user.has(role):
            raise Forbidden("forbidden", f"This needs the {role.value} role.")
        two_factor.check_staff_session(ctx, signed.user, signed.second_factor)
        return signed.user

    return check


Ctx = Annotated[Context, Depends(context)]
CurrentUser = Annotated[User, Depends(current_user)]
Lang = Annotated[str, Depends(lang)]
Reviewer = Annotated[User, Depends(require(Role.REVIEWER))]
Operator = Annotated[User, Depends(require(Role.OPERATOR))]
BearerToken = Annotated[Bearer, Depends(bearer_token)]
ClientIp = Annotated[str | None, Depends(client_ip)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
