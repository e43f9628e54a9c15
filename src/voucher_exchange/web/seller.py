"""Seller pages: rates and the calculator, language, sign-up, log-in and out, identity, bank accounts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from voucher_exchange import i18n
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import User
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import Brand, BrandStatus
from voucher_exchange.errors import DomainError, InvalidInput, NotFound
from voucher_exchange.i18n import N_
from voucher_exchange.identity import service as identity
from voucher_exchange.issuers import views as issuer_views
from voucher_exchange.money import Money
from voucher_exchange.payouts import banks
from voucher_exchange.quotes import service as quotes
from voucher_exchange.reversals import service as reversals
from voucher_exchange.risk import screening
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import ConsentKind
from voucher_exchange.web import forms, shell
from voucher_exchange.web.forms import AccountNumberText, BankCodeText, NameText, PhoneText, Text
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect, safe_next
from voucher_exchange.web.session import (
    LANG_COOKIE,
    PENDING_COOKIE,
    SESSION_COOKIE,
    SESSION_LASTS,
    Page,
    Visitor,
    check_csrf,
)

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
# A ticked consent box sends "yes"; an unticked one sends nothing.
Consent = Annotated[str, Form(max_length=5)]


def brands_on_sale(v: Visitor) -> list[Brand]:
    """The catalog of this deployment's currency."""
    with v.ctx.uow(readonly=True) as uow:
        return catalog.list_brands(uow.conn, v.ctx.settings.currency)


def _calculate(v: Visitor, brand: str, face: str) -> dict[str, Any]:
    """The calculator's answer, or the reason there is none (in the reader's language)."""
    if not brand or not face.strip():
        return {}
    try:
        amount = forms.parse_amount(face, v.ctx.settings.currency)
        with v.ctx.uow(readonly=True) as uow:
            quote = quotes.preview(uow.conn, v.ctx.settings, v.ctx.clock, brand, amount)
    except DomainError as exc:
        return {"error": forms.message(exc, v.lang)}
    if v.user is None:
        # Remembered through sign-up (brand and face value only, nothing secret): the account
        # page offers to go on selling at this amount once the seller may.
        v.cookies[CALC_COOKIE] = f"{quote.brand}|{amount.amount}"
    return {"quote": quote, "minutes": v.ctx.settings.quote_ttl_seconds // 60}


CALC_COOKIE = "vx_calc"


def remembered_calculation(v: Visitor) -> dict[str, Any] | None:
    """The brand and face value a visitor calculated before signing up, if still on sale."""
    brand, _, face = v.request.cookies.get(CALC_COOKIE, "").partition("|")
    if not brand or not face.isdigit() or len(face) > 12:
        return None
    found = next((b for b in brands_on_sale(v) if b.slug == brand and b.status is BrandStatus.ACTIVE), None)
    if found is None:
        return None
    money = Money(int(face), found.currency)
    return {"brand": found, "face": str(i18n.major_units(money)), "money": money}


# Face values offered as chips for a brand sold in a range rather than fixed denominations.
_RANGE_CHIPS = (10_000, 30_000, 50_000, 100_000)
_RANGE_CHIPS_USD = (1_000, 2_500, 5_000, 10_000)


def face_chips(brands: list[Brand], brand: str, face: str) -> list[dict[str, Any]]:
    """The chosen brand's face values to tap, the one typed marked current."""
    found = next((b for b in brands if b.slug == brand and b.status is BrandStatus.ACTIVE), None)
    if found is None:
        return []
    values = found.face_values
    if values.allowed:
        amounts = list(values.allowed)
    else:
        common = _RANGE_CHIPS if found.currency == "KRW" else _RANGE_CHIPS_USD
        amounts = [a for a in common if values.permits(a)]
    try:
        typed: int | None = forms.parse_amount(face, found.currency).amount if face.strip() else None
    except DomainError:
        typed = None
    return [
        {
            "value": str(i18n.major_units(Money(a, found.currency))),
            "money": Money(a, found.currency),
            "current": a == typed,
        }
        for a in amounts
    ]


@router.get("/")
def home(v: Page, brand: str = "", face: str = "") -> Response:
    """Rates and the calculator."""
    brands = brands_on_sale(v)
    chosen = brand or next((b.slug for b in brands if b.status is BrandStatus.ACTIVE), "")
    chips = face_chips(brands, chosen, face)
    calc = _calculate(v, brand, face)
    notices = guard_notices(v, brands)
    return page(
        v, "home.html", brands=brands, brand=chosen, face=face, calc=calc, chips=chips, notices=notices
    )


def guard_notices(v: Visitor, brands: list[Brand]) -> dict[str, list[str]]:
    """slug → what the issuer guard did to the brand (paused, rate lowered…), in the reader's words."""
    tz = ZoneInfo(JURISDICTION_TZ[v.ctx.settings.jurisdiction])
    with v.ctx.uow(readonly=True) as uow:
        guards = issuer_views.brand_guards(uow.conn, brands)
    return {slug: issuer_views.notices(guard, v.lang, tz) for slug, guard in guards.items() if guard.actions}


@router.get("/calculator")
def calculator(v: Page, brand: str = "", face: str = "") -> Response:
    """The calculator's result, for htmx as the seller types."""
    chips = face_chips(brands_on_sale(v), brand, face)
    return page(v, "_calc.html", calc=_calculate(v, brand, face), brand=brand, face=face, chips=chips)


@router.post("/language")
def language(v: Page, lang: Annotated[str, Form(max_length=5)], next: Text = "/") -> Response:
    """Switch language; a signed-in seller's e-mails follow."""
    chosen = i18n.pick(lang)
    v.cookies[LANG_COOKIE] = chosen
    if v.user is not None:
        accounts.change_language(v.ctx, v.user, chosen)
    return redirect(v, safe_next(next))


@router.get("/signup")
def signup_form(v: Page) -> Response:
    """The sign-up form."""
    return page(v, "signup.html", email="", ticked=set(), consent_docs=shell.documents(v))


@router.post("/signup")
def signup(
    v: Page,
    email: Text,
    password: Text,
    consent_terms: Consent = "",
    consent_privacy: Consent = "",
    consent_marketing: Consent = "",
) -> Response:
    """Create a seller account (with the consents ticked); the mailed link signs in.

    A taken address gets the same answer (its owner gets a notice instead of a link)."""
    boxes = {
        ConsentKind.TERMS: consent_terms,
        ConsentKind.PRIVACY: consent_privacy,
        ConsentKind.MARKETING: consent_marketing,
    }
    ticked = {kind for kind, value in boxes.items() if value}
    on_refusal(
        v,
        lambda refused: page(
            v,
            "signup.html",
            status=refused.status,
            email=email,
            ticked={k.value for k in ticked},
            consent_docs=shell.documents(v),
            error=refused.message,
            error_field=refused.field,
        ),
    )
    with v.ctx.uow(readonly=True) as uow:
        acceptance = trust.accept_current(uow.conn, ticked, "web", v.ctx.clock.now())
    accounts.register_quietly(v.ctx, email, password, v.client_ip, v.lang, consents=acceptance)
    return redirect(v, "/signup/sent")


LOGIN_NOTICES = {
    "password_reset": N_("Your password was changed and every session was signed out. Log in with it."),
    "email_verified": N_("Your e-mail address is confirmed. Log in to continue."),
    "account_deleted": N_("Your account was deleted."),
    "login_closed": N_("Your login was closed. Nobody can sign in to it; your records stay."),
}


@router.get("/login")
def login_form(v: Page, next: str = "/", notice: str = "") -> Response:
    """The log-in form (with a notice after a reset or a confirmed address)."""
    known = LOGIN_NOTICES.get(notice)
    shown = i18n.gettext(v.lang, known) if known else ""
    return page(v, "login.html", email="", next=safe_next(next), notice=shown)


@router.post("/login")
def login(v: Page, email: Text, password: Text, next: Text = "/") -> Response:
    """Sign in."""
    on_refusal(
        v,
        lambda refused: page(
            v, "login.html", status=refused.status, email=email, next=safe_next(next), error=refused.message
        ),
    )
    try:
        session = accounts.log_in(v.ctx, email, password, v.client_ip, SESSION_LASTS, web_step=True)
    except two_factor.TotpRequired as step:  # not a refusal: the code step follows
        v.cookies[PENDING_COOKIE] = step.pending or ""
        return redirect(v, "/login/code?next=" + quote(safe_next(next), safe="/"))
    v.start_session(session.token)
    default = "/staff" if session.user.is_staff else "/"
    return redirect(v, safe_next(next, default) if next != "/" else default)


@router.post("/logout")
def logout(v: Page) -> Response:
    """Sign out: the session's token stops working."""
    if v.session_token:
        accounts.sign_out(v.ctx, v.session_token)
    response = redirect(v, "/")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/account/sign-out-everywhere")
def sign_out_everywhere(v: Page) -> Response:
    """End every session and API token of the signed-in user, this one included."""
    user = v.seller()
    accounts.sign_out_everywhere(v.ctx, user)
    response = redirect(v, "/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


def _account_page(v: Visitor, status: int = 200, **values: Any) -> Response:
    user = v.seller()
    limits = screening.TIER_LIMITS[v.ctx.settings.jurisdiction][min(user.kyc_tier, 2)]
    with v.ctx.uow(readonly=True) as uow:
        fresh = accounts.authenticate(uow.conn, v.session_token or "", v.ctx.clock.now())
        owes = reversals.owed_by_person(uow.conn, v.ctx.vault, user.id, v.ctx.settings.currency)
    return page(
        v,
        "account.html",
        status=status,
        me=fresh,
        owes_own=owes.own.as_json() if owes.own.is_positive() else None,
        owes_linked=owes.linked.as_json() if owes.linked.is_positive() else None,
        destinations=identity.list_destinations(v.ctx, user),
        banks=banks.banks_for(v.ctx.settings.jurisdiction),
        limits=limits,
        resume=remembered_calculation(v),
        **values,
    )


@router.get("/account")
def account(v: Page) -> Response:
    """Identity, bank accounts, limits."""
    return _account_page(v)


@router.post("/account/identity")
def verify_identity(
    v: Page,
    legal_name: NameText,
    birth_date: Annotated[str, Form(max_length=10)],
    phone: PhoneText,
    nationality: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    """Verify the seller's identity (adults only)."""
    user = v.seller()
    kept = {"legal_name": legal_name, "birth_date": birth_date, "phone": phone, "nationality": nationality}
    on_refusal(
        v,
        lambda refused: _account_page(
            v, status=refused.status, identity_error=refused.message, identity_form=kept
        ),
    )
    born = forms.parse_date(birth_date, "birth_date")
    outcome = identity.verify_identity(v.ctx, user, legal_name, born, phone, nationality or None)
    if outcome.refused:
        raise identity.identity_refusal(outcome.refused, v.ctx.settings.jurisdiction)
    return redirect(v, "/account")


_CHECK_LASTS = timedelta(minutes=10)


def _check_token(v: Visitor, user: User, checked: identity.HolderCheck) -> str:
    """The checked account, encrypted for this seller only, so the page never carries the number."""
    until = (v.ctx.clock.now() + _CHECK_LASTS).isoformat()
    value: dict[str, str | None] = {
        "b": checked.bank_code,
        "a": checked.account_number,
        "h": checked.holder_name,
        "until": until,
    }
    return base64.urlsafe_b64encode(v.ctx.vault.encrypt_json(value, f"holder-check:{user.id}")).decode()


def _open_check_token(v: Visitor, user: User, token: str) -> dict[str, str | None]:
    expired = InvalidInput("holder_check_expired", "The check has expired. Check the account again.")
    try:
        value = v.ctx.vault.decrypt_json(base64.urlsafe_b64decode(token.encode()), f"holder-check:{user.id}")
        until = datetime.fromisoformat(str(value["until"]))
    except (ValueError, KeyError, TypeError, InvalidTag) as exc:  # InvalidTag: forged or another seller's
        raise expired from exc
    if until <= v.ctx.clock.now():
        raise expired
    return value


def _typed_account(v: Visitor, user: User, account_number: str, kept_account: str) -> str:
    """The number typed now, else the one kept (encrypted for this seller) from a failed check."""
    if account_number.strip() or not kept_account:
        return account_number
    try:
        value = v.ctx.vault.decrypt_json(base64.urlsafe_b64decode(kept_account.encode()), f"typed:{user.id}")
        return str(value["a"])
    except (ValueError, KeyError, TypeError, InvalidTag):
        return ""


@router.post("/account/payout-accounts")
def check_payout_account(
    v: Page,
    bank_code: BankCodeText,
    holder_name: NameText,
    account_number: AccountNumberText = "",
    kept_account: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """예금주 확인: ask the bank who holds the account and show the answer; nothing is stored yet.

    After a failed check the number typed is kept for the next try, encrypted for this seller in
    the form (the page shows it masked only), so nobody types it twice.
    """
    user = v.seller()
    account_number = _typed_account(v, user, account_number, kept_account)
    kept: dict[str, str] = {"bank_code": bank_code, "holder_name": holder_name}
    if account_number.strip():
        sealed = v.ctx.vault.encrypt_json({"a": account_number}, f"typed:{user.id}")
        kept["account"] = base64.urlsafe_b64encode(sealed).decode()
        kept["masked"] = "••••" + account_number.strip()[-4:]
    on_refusal(
        v, lambda refused: _account_page(v, status=refused.status, bank_error=refused.message, bank_form=kept)
    )
    checked = identity.check_holder(v.ctx, user, bank_code, account_number, holder_name)
    if not checked.matches:
        reason = checked.reason or "holder_mismatch"
        raise InvalidInput(reason, "The account must be in your own verified name.", "account_number")
    return _account_page(v, checked=checked, check_token=_check_token(v, user, checked), bank_form=kept)


@router.post("/account/payout-accounts/confirm")
def add_payout_account(v: Page, check: Annotated[str, Form(max_length=1000)]) -> Response:
    """Store the account the seller saw checked; the bank is asked once more so what is stored is true."""
    user = v.seller()
    _bank_refusal(v)
    value = _open_check_token(v, user, check)
    dest = identity.add_payout_destination(v.ctx, user, str(value["b"]), str(value["a"]), str(value["h"]))
    if dest.status != "verified":
        raise InvalidInput("payout_destination_mismatch", "The account must be in your own name.")
    return redirect(v, "/account")


@router.post("/account/payout-accounts/{destination_id}/default")
def make_default_payout_account(v: Page, destination_id: str) -> Response:
    """The account preselected when selling."""
    return _on_account(v, lambda user: identity.make_default(v.ctx, user, destination_id[:36]))


@router.get("/account/payout-accounts/{destination_id}/remove")
def confirm_remove_payout_account(v: Page, destination_id: str) -> Response:
    """Ask before an account is removed (the POST below does it)."""
    user = v.seller()
    found = next((d for d in identity.list_destinations(v.ctx, user) if d.id == destination_id[:36]), None)
    if found is None:
        raise NotFound("payout_destination_unknown", "There is no such account of yours.")
    named = {"bank": banks.bank_name(found.bank_code, v.lang), "masked": found.masked}
    return page(
        v,
        "confirm.html",
        heading=i18n.gettext(v.lang, "Remove %(bank)s %(masked)s?") % named,
        explanation=[
            i18n.gettext(
                v.lang,
                "We no longer offer it when you sell. Your past trades and receipts keep it as they are.",
            )
        ],
        action=f"/account/payout-accounts/{found.id}/remove",
        yes=i18n.gettext(v.lang, "Yes, remove it"),
        no=i18n.gettext(v.lang, "No, keep it"),
        back="/account#bank-accounts",
    )


@router.post("/account/payout-accounts/{destination_id}/remove")
def remove_payout_account(v: Page, destination_id: str) -> Response:
    """Stop offering an account (refused while a payout to it is on its way)."""
    destination_id = destination_id[:36]
    return _on_account(v, lambda user: trade_service.remove_payout_destination(v.ctx, user, destination_id))


def _on_account(v: Visitor, act: Callable[[User], object]) -> Response:
    """Do one thing to the seller's accounts: back to the account page, or the page with the error."""
    user = v.seller()
    _bank_refusal(v)
    act(user)
    return redirect(v, "/account")


def _bank_refusal(v: Visitor) -> None:
    """A refused bank-account change shows the account page with the error by the accounts."""
    on_refusal(v, lambda refused: _account_page(v, status=refused.status, bank_error=refused.message))
