"""Request-scoped helpers: the context, the signed-in user, the reader's language.

Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in
the threadpool, one hop per dependency. Hot routes authenticate inside their one hop
(`as_user`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.context import Context
from voucher_exchange.db.retry import again_if_lost
from voucher_exchange.errors import Forbidden, Unauthorized

T = TypeVar("T")


async def context(request: Request) -> Context:
    """The process's Context."""
    ctx: Context = request.app.state.ctx
    return ctx


async def bearer_token(authorization: Annotated[str | None, Header(max_length=400)] = None) -> str:
    """The token of `Authorization: Bearer <token>`."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
    return authorization.removeprefix("Bearer ").strip()


def current_user(request: Request, token: Annotated[str, Depends(bearer_token)]) -> User:
    """The user behind `Authorization: Bearer <token>` (an API token's expiry moves on with use)."""
    ctx: Context = request.app.state.ctx
    return _authenticate(ctx, token)


async def as_user(ctx: Context, token: str, work: Callable[[User], T]) -> T:
    """Authenticate the token and run `work(user)`, both in one threadpool hop."""
    return await run_in_threadpool(lambda: work(_authenticate(ctx, token)))


def _authenticate(ctx: Context, token: str) -> User:
    # A read, then at most the token's new expiry (the same value again): safe to run again
    # when the database connection was lost (a restart) before anything was stored.
    return again_if_lost(lambda: accounts.authenticate_api(ctx, token))


async def client_ip(request: Request) -> str | None:
    """The peer's address (the proxy's, unless the server is told to trust forwarded headers)."""
    return request.client.host if request.client else None


async def lang(accept_language: Annotated[str | None, Header(max_length=200)] = None) -> str:
    """ "ko" when the reader prefers Korean, else "en"."""
    return "ko" if (accept_language or "").strip().lower().startswith("ko") else "en"


def require(role: Role):  # type: ignore[no-untyped-def]
    """A dependency that admits only users holding `role` with a token that passed the second factor.

    A plain def: the checks read the DB. A token issued without a two-factor code (before
    enrolment, say) is refused with `totp_session_required`; staff who have not enrolled
    get `totp_enrolment_required` (two_factor.check_staff_session).
    """

    def check(request: Request, token: Annotated[str, Depends(bearer_token)]) -> User:
        ctx: Context = request.app.state.ctx
        signed = accounts.authenticate_api_session(ctx, token)
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
BearerToken = Annotated[str, Depends(bearer_token)]
ClientIp = Annotated[str | None, Depends(client_ip)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
