"""The seller's developers page: API keys for the programs that act for the account, and the
webhook endpoints we send events to (their own pages: web/developer_endpoints.py).

A new key's secret is shown once, on the page the creating (or rolling) POST answers with:
never in a URL, never logged, stored only as a keyed hash. The page's script then replaces the
address with the page's own, so reloading shows the list (with the prefix only), not the form
sent again.
Keys are for selling accounts: a staff account without `may_sell` is told so and changes nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response
from pydantic import AfterValidator

from voucher_exchange import i18n
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.apikeys import service as api_keys
from voucher_exchange.apikeys.models import MAX_NAME, Scope
from voucher_exchange.errors import Forbidden, InvalidInput
from voucher_exchange.i18n import N_
from voucher_exchange.security.input_policy import single_line
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import Page, Visitor, check_csrf
from voucher_exchange.webhooks import service as webhooks
from voucher_exchange.webhooks.models import EventType

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
PATH = "/account/developers"

KeyName = Annotated[str, Form(max_length=MAX_NAME), AfterValidator(single_line)]
Networks = Annotated[str, Form(max_length=1000), AfterValidator(single_line)]
Choices = Annotated[list[str], Form(max_length=len(Scope) * 2)]
Choice = Annotated[str, Form(max_length=10)]

# What each scope lets a program do, in the reader's words (the scope itself is shown as code).
SCOPES = {
    Scope.QUOTES_WRITE: N_("Ask for quotes"),
    Scope.TRADES_WRITE: N_("Sell vouchers, cancel, choose another account for a refused payout, appeal"),
    Scope.TRADES_READ: N_("Read your trades"),
    Scope.PAYOUT_DESTINATIONS_READ: N_("Read your bank accounts (masked)"),
    Scope.RECEIPTS_READ: N_("Fetch signed receipts of paid trades"),
    Scope.WEBHOOKS_MANAGE: N_("Manage webhook endpoints and their deliveries"),
    Scope.FRAUD_REPORTS_WRITE: N_("Report vouchers as stolen or scam-sourced (issuers)"),
}
# Offered lifetimes (days; "" never expires) and roll overlaps (hours), so nothing is typed.
LIFETIMES = {"": N_("Never"), "30": N_("In 30 days"), "90": N_("In 90 days"), "365": N_("In a year")}
OVERLAPS = {
    "0": N_("Stop the old key now"),
    "1": N_("Keep the old key working for 1 hour"),
    "24": N_("Keep the old key working for 24 hours"),
    "168": N_("Keep the old key working for 7 days"),
}
SECRET_OVERLAPS = {
    "0": N_("Stops signing now"),
    "1": N_("Signs too for 1 hour"),
    "24": N_("Signs too for 24 hours"),
    "168": N_("Signs too for 7 days"),
}
DEFAULT_OVERLAP = "24"
# What each event means, in the reader's words (the type itself is shown as code).
EVENTS = {
    EventType.TRADE_RECEIVED: N_("A trade was accepted for processing"),
    EventType.TRADE_IN_REVIEW: N_("A trade waits for a person to decide"),
    EventType.TRADE_PAID: N_("A trade was paid out, or settled what you owed after a reversal"),
    EventType.TRADE_REJECTED: N_("A trade was refused"),
    EventType.TRADE_CANCELLED: N_("A trade was cancelled"),
    EventType.TRADE_FAILED: N_("A trade stopped and needs someone to act"),
    EventType.TRADE_REVERSED: N_("The issuer took a paid voucher's value back"),
    EventType.PAYOUT_REFUSED: N_("The bank refused a payout"),
    EventType.RECEIVABLE_CHANGED: N_("What you owe after a reversal changed"),
}
DISABLED_BECAUSE = {
    "gone": N_("Disabled: it answered 410 Gone. Add it again to receive events."),
    "failing": N_("Disabled: every delivery failed for three days. Add it again to receive events."),
}
DONE = {
    "revoked": N_("The key was revoked. Programs using it are refused from now on."),
    "endpoint_deleted": N_("The endpoint was deleted. Nothing more is sent to it."),
}


def seller_only(v: Visitor) -> User:
    """The signed-in account, if it may hold keys: staff only with the may_sell role."""
    user = v.seller()
    if not _may_integrate(user):
        raise Forbidden(
            "developers_sellers_only",
            "API keys and webhooks are for selling accounts. Use a personal account to integrate.",
        )
    return user


def _may_integrate(user: User) -> bool:
    return not user.is_staff or Role.MAY_SELL in user.roles


def show(v: Visitor, status: int = 200, **values: Any) -> Response:
    """The developers page (every refusal on it comes back here, with the reason by its form)."""
    user = v.seller()
    allowed = _may_integrate(user)
    keys = api_keys.list_keys(v.ctx, user) if allowed else []
    endpoints = webhooks.list_own(v.ctx, user) if allowed else []
    now = v.ctx.clock.now()
    return page(
        v,
        "developers.html",
        status=status,
        allowed=allowed,
        live=[k for k in keys if k.active(now)],
        past=[k for k in keys if not k.active(now)],
        scopes=SCOPES,
        lifetimes=LIFETIMES,
        overlaps=OVERLAPS,
        default_overlap=DEFAULT_OVERLAP,
        endpoints=endpoints,
        events=EVENTS,
        disabled_because=DISABLED_BECAUSE,
        api_base=str(v.request.base_url).rstrip("/") + "/api/v1",
        **values,
    )


@router.get(PATH)
def developers(v: Page, notice: str = "") -> Response:
    """API keys (create, roll, revoke, when each was last used) and webhook endpoints."""
    known = DONE.get(notice)
    return show(v, done=i18n.gettext(v.lang, known) if known else "")


def _scopes(values: list[str]) -> list[Scope]:
    known = {s.value for s in Scope}
    if any(value not in known for value in values):
        raise InvalidInput("scope_unknown", "Choose scopes from the list.", "scopes")
    return [Scope(value) for value in values]


def _networks(text: str) -> list[str]:
    """'203.0.113.0/24, 198.51.100.7' (commas, spaces or both) → the items; checked by the use case."""
    return [item for item in re.split(r"[\s,]+", text) if item]


@router.post(PATH + "/keys")
def create_key(
    v: Page,
    name: KeyName = "",
    scopes: Choices | None = None,
    allowed_ips: Networks = "",
    expires_in_days: Choice = "",
) -> Response:
    """Make a key and show its secret on this answer only."""
    user = seller_only(v)
    kept = {"name": name, "scopes": scopes or [], "allowed_ips": allowed_ips, "expires": expires_in_days}
    on_refusal(
        v,
        lambda refused: show(
            v, status=refused.status, key_error=refused.message, key_field=refused.field, key_form=kept
        ),
    )
    if expires_in_days not in LIFETIMES:
        raise InvalidInput("invalid_expiry", "Choose when the key expires.", "expires_at")
    lifetime = timedelta(days=int(expires_in_days)) if expires_in_days else None
    expires_at = v.ctx.clock.now() + lifetime if lifetime else None
    wanted = _scopes(scopes or [])
    made = api_keys.create_key(v.ctx, user, name, wanted, _networks(allowed_ips), expires_at)
    return show(v, status=201, made=made, made_how="created")


@router.post(PATH + "/keys/{key_id}/roll")
def roll_key(v: Page, key_id: str, overlap_hours: Choice = DEFAULT_OVERLAP) -> Response:
    """Replace a key by a new one (shown on this answer only); the old one works for the overlap."""
    user = seller_only(v)
    on_refusal(v, lambda refused: show(v, status=refused.status, list_error=refused.message))
    if overlap_hours not in OVERLAPS:
        raise InvalidInput(
            "overlap_invalid", "Choose how long the old key or secret keeps working.", "overlap_hours"
        )
    made = api_keys.roll_key(v.ctx, user, key_id[:36], timedelta(hours=int(overlap_hours)))
    return show(v, status=201, made=made, made_how="rolled")


@router.post(PATH + "/keys/{key_id}/revoke")
def revoke_key(v: Page, key_id: str) -> Response:
    """Revoke a key: programs using it are refused from the next request on."""
    user = seller_only(v)
    on_refusal(v, lambda refused: show(v, status=refused.status, list_error=refused.message))
    api_keys.revoke_key(v.ctx, user, key_id[:36])
    return redirect(v, PATH + "?notice=revoked")
