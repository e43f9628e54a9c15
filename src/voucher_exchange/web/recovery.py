"""Pages for getting back in: forgot password, mailed links, the check-your-e-mail pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from voucher_exchange.accounts import recovery
from voucher_exchange.accounts import service as accounts
from voucher_exchange.web.forms import Text
from voucher_exchange.web.refusals import Refusal, on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import SESSION_LASTS, Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
Token = Annotated[str, Path(max_length=200)]


def _link_refused(v: Visitor, template: str, refused: Refusal, token: str = "") -> Response:
    """A mailed link's page with the refusal; without the token, the form is not offered again."""
    return page(v, template, status=refused.status, token=token, error=refused.message)


@router.get("/password-reset")
def forgot_form(v: Page) -> Response:
    """Ask for a reset link."""
    return page(v, "password_forgot.html", email="")


@router.post("/password-reset")
def forgot(v: Page, email: Text) -> Response:
    """Mail a reset link; the page says the same whether or not the address has an account."""
    on_refusal(
        v,
        lambda refused: page(
            v, "password_forgot.html", status=refused.status, email=email, error=refused.message
        ),
    )
    recovery.request_password_reset(v.ctx, email, v.client_ip)
    return page(v, "check_email.html", reason="reset")


@router.get("/password-reset/{token}")
def new_password_form(v: Page, token: Token) -> Response:
    """Choose a new password (or be told the link no longer works)."""
    on_refusal(v, lambda refused: _link_refused(v, "password_new.html", refused))
    recovery.check_reset_link(v.ctx, token)
    return page(v, "password_new.html", token=token)


@router.post("/password-reset/{token}")
def new_password(v: Page, token: Token, password: Text) -> Response:
    """Set the new password; every session ends, and the person logs in with it."""
    on_refusal(
        v,
        # A refused password may be tried again with the same link; a spent or expired link may not.
        lambda refused: _link_refused(
            v, "password_new.html", refused, token if refused.code != "link_expired" else ""
        ),
    )
    recovery.reset_password(v.ctx, token, password)
    response = redirect(v, "/login?notice=password_reset")
    response.delete_cookie("vx_session")
    return response


@router.get("/signup/sent")
def signup_sent(v: Page) -> Response:
    """After signing up: the link to continue is in the mailbox (the same page for a taken address)."""
    return page(v, "check_email.html", reason="signup")


@router.get("/verify-email/{token}")
def verify_form(v: Page, token: Token) -> Response:
    """Confirm the address with one press (a mail scanner fetching the link spends nothing)."""
    on_refusal(v, lambda refused: _link_refused(v, "verify_email.html", refused))
    recovery.check_verify_link(v.ctx, token)
    return page(v, "verify_email.html", token=token)


@router.post("/verify-email/{token}")
def verify(v: Page, token: Token) -> Response:
    """Spend the link; a seller who is not signed in is signed in (staff log in, with their code)."""
    on_refusal(v, lambda refused: _link_refused(v, "verify_email.html", refused))
    user, moved = recovery.verify_email(v.ctx, token)
    if v.user is not None and v.user.id == user.id:
        return redirect(v, "/account/security?notice=email_verified")
    if user.is_staff or moved:
        # Staff log in with their code; a moved address proves the new mailbox, not the person.
        return redirect(v, "/login?notice=email_verified")
    session = accounts.start_session(v.ctx, user, SESSION_LASTS)
    v.start_session(session.token)
    return redirect(v, "/account")
