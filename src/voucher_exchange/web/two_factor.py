"""Staff two-factor pages: the code step of signing in, and setting up an authenticator app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import EnrolmentState, User
from voucher_exchange.accounts.two_factor import Enrolment
from voucher_exchange.web.forms import Text
from voucher_exchange.web.refusals import Refusal, on_refusal
from voucher_exchange.web.render import page, redirect, safe_next
from voucher_exchange.web.session import PENDING_COOKIE, SESSION_LASTS, NotStaff, Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
Code = Annotated[str, Form(max_length=40)]


@router.get("/login/code")
def code_form(v: Page, next: str = "/staff") -> Response:
    """The second step of a staff sign-in: the code from the authenticator app."""
    return page(v, "login_code.html", next=safe_next(next, "/staff"))


@router.post("/login/code")
def code(v: Page, totp: Code, next: Text = "/staff") -> Response:
    """Check the code; a right one finishes the sign-in."""
    pending = v.request.cookies.get(PENDING_COOKIE, "")[:200]
    on_refusal(v, lambda refused: _code_refused(v, refused, next))
    session = accounts.finish_log_in(v.ctx, pending, totp, SESSION_LASTS, v.client_ip)
    v.start_session(session.token)
    response = redirect(v, safe_next(next, "/staff") if next != "/" else "/staff")
    response.delete_cookie(PENDING_COOKIE)
    return response


def _code_refused(v: Visitor, refused: Refusal, next: str) -> Response:
    """A wrong code: the code form again; a sign-in that took too long starts over."""
    if refused.code == "sign_in_expired":
        return redirect(v, "/login")
    return page(
        v, "login_code.html", status=refused.status, next=safe_next(next, "/staff"), error=refused.message
    )


def _staff_member(v: Visitor) -> User:
    user = v.seller()
    if not user.is_staff:
        raise NotStaff("forbidden", "Two-factor sign-in is for staff accounts.")
    return user


def _setup_page(v: Visitor, setup: Enrolment | None, status: int = 200, error: str = "") -> Response:
    """The setup page in its state: the key (only when just begun), the code form, or why not."""
    state = setup.state.value if setup else ""
    return page(
        v,
        "two_factor.html",
        status=status,
        state=state,
        enrolled=state == EnrolmentState.ENROLLED,
        secret=setup.secret if setup else None,
        uri=setup.uri if setup else None,
        error=error,
    )


def _setup_refused(v: Visitor, user: User, refused: Refusal) -> Response:
    """A wrong first code or a refused start-over: the page in its state, with the error (no new key)."""
    setup = two_factor.enrolment_state(v.ctx, user, v.session_token or "")
    return _setup_page(v, setup, status=refused.status, error=refused.message)


@router.get("/account/two-factor")
def enrolment(v: Page) -> Response:
    """Set up two-factor: a new key, shown once; loading the page again never replaces it."""
    user = _staff_member(v)
    return _setup_page(v, two_factor.enrolment(v.ctx, user, v.session_token or ""))


@router.post("/account/two-factor")
def confirm(v: Page, totp: Code) -> Response:
    """Confirm the first code (in the session that began the setup); the recovery codes are shown once."""
    user = _staff_member(v)
    on_refusal(v, lambda refused: _setup_refused(v, user, refused))
    codes = two_factor.confirm_enrolment(v.ctx, user, totp, v.session_token or "")
    return page(v, "two_factor.html", state=EnrolmentState.ENROLLED.value, recovery_codes=codes)


@router.post("/account/two-factor/restart")
def restart(v: Page) -> Response:
    """Start over with a new key: only the session that began the setup, or any once that one ended."""
    user = _staff_member(v)
    on_refusal(v, lambda refused: _setup_refused(v, user, refused))
    return _setup_page(v, two_factor.restart_enrolment(v.ctx, user, v.session_token or ""))
