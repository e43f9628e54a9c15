"""Request-scoped helpers: the context, the signed-in user, the reader's language."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.context import Context
from voucher_exchange.errors import Forbidden, Unauthorized


def context(request: Request) -> Context:
    """The process's Context."""
    ctx: Context = request.app.state.ctx
    return ctx


def bearer_token(authorization: Annotated[str | None, Header(max_length=400)] = None) -> str:
    """The token of `Authorization: Bearer <token>`."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("unauthorized", "Sign in and send 'Authorization: Bearer <token>'.")
    return authorization.removeprefix("Bearer ").strip()


def current_user(request: Request, token: Annotated[str, Depends(bearer_token)]) -> User:
    """The user behind `Authorization: Bearer <token>` (an API token's expiry moves on with use)."""
    return accounts.authenticate_api(context(request), token)


def client_ip(request: Request) -> str | None:
    """The peer's address (the proxy's, unless the server is told to trust forwarded headers)."""
    return request.client.host if request.client else None


def lang(accept_language: Annotated[str | None, Header(max_length=200)] = None) -> str:
    """ "ko" when the reader prefers Korean, else "en"."""
    return "ko" if (accept_language or "").strip().lower().startswith("ko") else "en"


def require(role: Role):  # type: ignore[no-untyped-def]
    """A dependency that admits only users holding `role`."""

    def check(
        user: Annotated[User, Depends(current_user)], ctx: Annotated[Context, Depends(context)]
    ) -> User:
        if not user.has(role):
            raise Forbidden("forbidden", f"This needs the {role.value} role.")
        if two_factor.must_enrol(ctx, user):
            raise Forbidden(
                "totp_enrolment_required",
                "Set up two-factor sign-in on the site (/account/two-factor) first.",
            )
        return user

    return check


Ctx = Annotated[Context, Depends(context)]
CurrentUser = Annotated[User, Depends(current_user)]
Lang = Annotated[str, Depends(lang)]
Reviewer = Annotated[User, Depends(require(Role.REVIEWER))]
Operator = Annotated[User, Depends(require(Role.OPERATOR))]
BearerToken = Annotated[str, Depends(bearer_token)]
ClientIp = Annotated[str | None, Depends(client_ip)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
