"""The account's security page: password, e-mail address, other sessions, deleting the account."""

from __future__ import annotations

from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from voucher_exchange import i18n
from voucher_exchange.accounts import credentials, recovery
from voucher_exchange.i18n import N_
from voucher_exchange.privacy import service as privacy
from voucher_exchange.web.forms import Text
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import SESSION_COOKIE, Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
DONE = {
    "password": N_("Your password was changed. Every other session was signed out."),
    "email": N_("We sent a link to the new address. Your account moves to it once you open the link."),
    "others": N_("Every other session and API token was signed out."),
    "verification": N_("We sent you a new link. Open it to confirm your address."),
    "email_verified": N_("Your e-mail address is confirmed."),
}


def _page(v: Visitor, status: int = 200, **values: Any) -> Response:
    user = v.seller()
    blocked = privacy.erasure_status(v.ctx, user)
    erasure = None
    if blocked is not None:
        erasure = {
            "code": blocked.code,
            "from": format_date(blocked.possible_from, "long", locale=i18n.locale(v.lang))
            if blocked.possible_from
            else "",
        }
    window = v.ctx.settings.liability_window_days
    return page(
        v,
        "account_security.html",
        status=status,
        me=user,
        erasure=erasure,
        liability_window_days=window,
        **values,
    )


@router.get("/account/security")
def security(v: Page, notice: str = "") -> Response:
    """Password, e-mail address, sessions, deleting the account."""
    known = DONE.get(notice)
    return _page(v, done=i18n.gettext(v.lang, known) if known else "")


def _refusal_under(v: Visitor, form: str) -> None:
    """A refusal shows this page again, the error under the form it came from."""
    on_refusal(v, lambda refused: _page(v, status=refused.status, errors={form: refused.message}))


@router.post("/account/security/password")
def change_password(v: Page, current_password: Text, password: Text) -> Response:
    """Change the password (the current one is asked again); other sessions end."""
    user = v.seller()
    _refusal_under(v, "password")
    credentials.change_password(v.ctx, user, current_password, password, v.session_token or "")
    return redirect(v, "/account/security?notice=password")


@router.post("/account/security/email")
def change_email(v: Page, email: Text, password: Text) -> Response:
    """Move the account to another address once that address is confirmed."""
    user = v.seller()
    _refusal_under(v, "email")
    credentials.change_email(v.ctx, user, password, email)
    return redirect(v, "/account/security?notice=email")


@router.post("/account/security/verification")
def resend_verification(v: Page) -> Response:
    """Mail a new verification link."""
    user = v.seller()
    _refusal_under(v, "verification")
    recovery.resend_verification(v.ctx, user)
    return redirect(v, "/account/security?notice=verification")


@router.post("/account/security/sign-out-others")
def sign_out_others(v: Page) -> Response:
    """End every other session and API token; this one stays."""
    user = v.seller()
    credentials.sign_out_others(v.ctx, user, v.session_token or "")
    return redirect(v, "/account/security?notice=others")


def _confirm_delete(v: Visitor, status: int = 200, error: str = "") -> Response:
    return page(
        v,
        "confirm.html",
        status=status,
        error=error,
        heading=i18n.gettext(v.lang, "Delete your account?"),
        explanation=[
            i18n.gettext(
                v.lang,
                "Possible once no trade, payout or balance is open. We then forget your e-mail address, "
                "password, sessions and unused bank accounts. The law makes us keep your trades, payments, "
                "receipts and identity check for five years.",
            ),
            i18n.gettext(v.lang, "This cannot be undone."),
        ],
        ask_password=True,
        action="/account/security/delete",
        yes=i18n.gettext(v.lang, "Delete my account"),
        no=i18n.gettext(v.lang, "No, keep my account"),
        back="/account/security",
    )


@router.get("/account/security/delete")
def confirm_delete_account(v: Page) -> Response:
    """Ask before the account is erased, with the password (the POST below does it)."""
    v.seller()
    return _confirm_delete(v)


@router.post("/account/security/delete")
def delete_account(v: Page, password: Text) -> Response:
    """Erase the account (refused while money is in flight): a refusal is shown first thing on the page."""
    user = v.seller()
    on_refusal(v, lambda refused: _confirm_delete(v, status=refused.status, error=refused.message))
    privacy.erase_account(v.ctx, user, password)
    response = redirect(v, "/login?notice=account_deleted")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/account/security/close")
def close_login(v: Page, password: Text) -> Response:
    """Close the login and keep the record (when deletion must wait)."""
    user = v.seller()
    _refusal_under(v, "close")
    privacy.close_login(v.ctx, user, password)
    response = redirect(v, "/login?notice=login_closed")
    response.delete_cookie(SESSION_COOKIE)
    return response
