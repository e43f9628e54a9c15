"""Demo-only pages (`serve --demo`): the sandbox helper and the caught e-mails.

`/demo/sandbox` mints a test voucher at the sandbox issuer and registers a test bank account
at the sandbox rail (in the seller's verified name, or one whose bank refuses transfers), so
the demo is walkable from the browser alone. `/demo/mail` shows the e-mails the demo caught
(var/mail/*.eml), decoded, with their links. Outside the demo (production has no sandboxes)
both answer 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from voucher_exchange.accounts.models import IdentityStatus
from voucher_exchange.errors import InvalidInput, NotFound
from voucher_exchange.i18n import N_
from voucher_exchange.notifications.local import caught_mails
from voucher_exchange.payouts import banks
from voucher_exchange.quotes import service as quotes
from voucher_exchange.web import forms, labels
from voucher_exchange.web.forms import AccountNumberText, BankCodeText, Text
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page
from voucher_exchange.web.seller import brands_on_sale
from voucher_exchange.web.selling import sell_page
from voucher_exchange.web.session import Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)

STATES = ("active", "redeemed", "expired", "blocked")
CHANNELS = ("card", "bank_transfer", "gift", "promotion", "carrier_billing", "unknown")
BEHAVIORS = ("ok", "reject")
MAILS_SHOWN = 20
Choice = Annotated[str, Form(max_length=20)]

labels.ERRORS.update(
    {
        "sandbox_unavailable": N_("The sandbox did not answer. Try again."),
        "sandbox_refused": N_("The sandbox refused these values. Check them and try again."),
        "demo_identity_required": N_(
            "Verify your identity first: the test account is opened in your verified name."
        ),
    }
)


def sandbox_url(v: Visitor) -> str:
    """The sandboxes' address, or 404: only the demo has sandboxes (never production)."""
    if not v.ctx.settings.demo or not v.ctx.sandbox_url:
        raise NotFound("not_found", "There is no such page.")
    return v.ctx.sandbox_url.rstrip("/")


def _call(v: Visitor, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to the sandbox; its refusal becomes a field error, never a 5xx."""
    try:
        timeout = v.ctx.settings.http_timeout_seconds * 5
        response = httpx.post(sandbox_url(v) + path, json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise InvalidInput("sandbox_unavailable", "The sandbox did not answer. Try again.") from exc
    if response.status_code != 201:
        raise InvalidInput("sandbox_refused", "The sandbox refused these values. Check them and try again.")
    answer: dict[str, Any] = response.json()
    return answer


def _sandbox_page(v: Visitor, status: int = 200, **values: Any) -> Response:
    sandbox_url(v)
    user = v.seller()
    verified = user.identity_status is IdentityStatus.VERIFIED
    return page(
        v,
        "demo_sandbox.html",
        status=status,
        brands=brands_on_sale(v),
        banks=banks.banks_for(v.ctx.settings.jurisdiction),
        holder=user.legal_name if verified else None,
        states=STATES,
        channels=CHANNELS,
        **values,
    )


@router.get("/demo/sandbox")
def sandbox_page(v: Page) -> Response:
    """The sandbox helper: test vouchers and test bank accounts (demo only)."""
    return _sandbox_page(v)


@router.post("/demo/sandbox/vouchers")
def mint(
    v: Page,
    brand: Text,
    face: Text,
    balance: Text = "",
    state: Choice = "active",
    channel: Choice = "card",
) -> Response:
    """Mint a test voucher at the sandbox issuer and show its code and PIN to copy."""
    sandbox_url(v)
    v.seller()
    kept = {"brand": brand, "face": face, "balance": balance, "state": state, "channel": channel}
    on_refusal(
        v, lambda refused: _sandbox_page(v, status=refused.status, mint_error=refused.message, mint_form=kept)
    )
    currency = v.ctx.settings.currency
    face_value = forms.parse_amount(face, currency)
    if state not in STATES or channel not in CHANNELS:
        raise InvalidInput("sandbox_refused", "The sandbox refused these values. Check them and try again.")
    body: dict[str, Any] = {
        "brand": brand, "face_value": face_value.amount, "state": state, "purchase_channel": channel,
    }  # fmt: skip
    if balance.strip():
        body["balance"] = forms.parse_amount(balance, currency, "balance").amount
    minted = _call(v, "/issuer/vouchers", body)
    return _sandbox_page(v, minted=minted, mint_form=kept)


@router.post("/demo/sandbox/sell")
def sell_minted(v: Page, brand: Text, face: Text, code: Text, pin: Text = "") -> Response:
    """'Use it to sell': a quote for the minted voucher and the sell form with its code and PIN filled in.

    Refused (a brand not bought now, say), the voucher stays on the page to copy."""
    sandbox_url(v)
    user = v.seller()
    currency = v.ctx.settings.currency
    amount = forms.parse_amount(face, currency)
    minted = {"brand": brand, "code": code, "pin": pin, "face_value": amount.amount, "currency": currency}
    on_refusal(
        v, lambda refused: _sandbox_page(v, status=refused.status, sell_error=refused.message, minted=minted)
    )
    quote = quotes.take_quote(v.ctx, user, brand, amount)
    return sell_page(v, quote.id, filled_code=code, filled_pin=pin)


@router.post("/demo/sandbox/accounts")
def register_account(
    v: Page,
    bank_code: BankCodeText,
    account_number: AccountNumberText = "",
    behavior: Choice = "ok",
) -> Response:
    """Open a test bank account at the sandbox rail in the seller's verified name (or make one refuse)."""
    sandbox_url(v)
    user = v.seller()
    kept = {"bank_code": bank_code, "account_number": account_number, "behavior": behavior}
    on_refusal(
        v,
        lambda refused: _sandbox_page(
            v, status=refused.status, account_error=refused.message, account_form=kept
        ),
    )
    if user.identity_status is not IdentityStatus.VERIFIED or not user.legal_name:
        raise InvalidInput("demo_identity_required", "Verify your identity first.")
    if behavior not in BEHAVIORS:
        raise InvalidInput("sandbox_refused", "The sandbox refused these values. Check them and try again.")
    number = "".join(ch for ch in account_number if ch.isdigit()) or str(uuid.uuid4().int)[:12]
    registered = {"bank_code": bank_code, "account_number": number}
    registered |= {"holder_name": user.legal_name, "behavior": behavior}
    _call(v, "/rail/accounts", registered)
    return _sandbox_page(v, registered=registered, account_form=kept)


@router.get("/demo/mail")
def mail_page(v: Page) -> Response:
    """The e-mails the demo caught, newest first, decoded with their links (demo only)."""
    sandbox_url(v)
    mails = caught_mails(v.ctx.settings.var_dir / "mail")
    if v.user is not None:
        mails = [m for m in mails if v.user.email.lower() in m.to.lower()]
    base = v.ctx.settings.public_url.rstrip("/")
    # Links to this site open on the address the visitor uses (127.0.0.1 or localhost, any port).
    shown = [
        (m, [link.removeprefix(base) if link.startswith(base + "/") else link for link in m.links])
        for m in reversed(mails)
    ]
    return page(v, "demo_mail.html", mails=shown[:MAILS_SHOWN])
