"""The operator's issuer guard page: exposure per issuer against its limit, the signals, the facts,
the rules and every action taken (with lifting)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from voucher_exchange.accounts.models import Role
from voucher_exchange.errors import InvalidInput, NotFound
from voucher_exchange.issuers import guard
from voucher_exchange.issuers import views as issuer_views
from voucher_exchange.money import Money
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.web import forms, staff_words
from voucher_exchange.web.charts import exposure_chart
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import redirect
from voucher_exchange.web.session import Page, Visitor, check_csrf
from voucher_exchange.web.staff_page import staff_page

router = APIRouter(prefix="/staff/issuers", dependencies=[Depends(check_csrf)], include_in_schema=False)
PATH = "/staff/issuers"
Short = Annotated[str, Form(max_length=200)]


def _page(v: Visitor, status: int = 200, **values: object) -> Response:
    v.staff(Role.OPERATOR)
    currency = v.ctx.settings.currency
    tz = ZoneInfo(JURISDICTION_TZ[v.ctx.settings.jurisdiction])
    with v.ctx.uow(readonly=True) as uow:
        board = issuer_views.dashboard(uow.conn, currency, v.ctx.clock.now())
    charts = {
        p.facts.code: exposure_chart(
            p.days,
            p.points,
            p.facts.exposure_limit,
            lambda amount: staff_words.money_text(Money(amount, currency), v.lang),
        )
        for p in board.panels
    }
    return staff_page(
        v,
        "staff/issuers.html",
        status=status,
        board=board,
        charts=charts,
        words=lambda action: issuer_views.words(action, v.lang, tz),
        **values,
    )


@router.get("")
def issuers(v: Page) -> Response:
    """Every issuer: exposure against its limit, signals, facts, rules and actions."""
    return _page(v)


def _optional_amount(text: str, currency: str, field: str) -> int | None:
    return forms.parse_amount(text, currency, field).amount if text.strip() else None


@router.post("/{code}/facts")
def save_facts(
    v: Page,
    code: str,
    name: Short,
    registration_status: Annotated[str, Form(max_length=20)],
    registration_number: Short = "",
    insurance_expires_on: Annotated[str, Form(max_length=20)] = "",
    exposure_limit: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The operator's facts about an issuer: name, 선불업 registration, insurance expiry, exposure limit."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _page(v, status=refused.status, error=refused.message))
    currency = v.ctx.settings.currency
    expires: date | None = (
        forms.parse_date(insurance_expires_on, "insurance_expires_on")
        if insurance_expires_on.strip()
        else None
    )
    guard.save_facts(
        v.ctx,
        code[:60],
        name=name,
        registration_status=registration_status,
        registration_number=registration_number,
        insurance_expires_on=expires,
        exposure_limit=_optional_amount(exposure_limit, currency, "exposure_limit"),
        actor=operator.email,
    )
    return redirect(v, PATH)


@router.post("/rules")
def add_rule(
    v: Page,
    signal: Annotated[str, Form(max_length=40)],
    threshold: Annotated[str, Form(max_length=20)],
    action: Annotated[str, Form(max_length=40)],
    issuer: Annotated[str, Form(max_length=60)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """A new rule: when a signal reaches a threshold, take an action (for one issuer, or all)."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _page(v, status=refused.status, error=refused.message))
    try:
        limit = int(threshold.strip())
    except ValueError as exc:
        raise InvalidInput(
            "guard_threshold_invalid", "The threshold is a whole number.", "threshold"
        ) from exc
    given: int | None = None
    if amount.strip():
        if action == "cap_daily_volume":
            given = forms.parse_amount(amount, v.ctx.settings.currency, "amount").amount
        elif amount.strip().isdigit():
            given = int(amount.strip())
        else:
            raise InvalidInput("guard_amount_invalid", "The amount is a whole number.", "amount")
    guard.add_rule(v.ctx, issuer.strip() or None, signal, limit, action, given, operator.email)
    return redirect(v, PATH)


def _id(text: str, code: str, what: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise NotFound(code, f"There is no such {what}.")
    return int(text)


@router.post("/rules/{rule_id}/enabled")
def set_rule_enabled(v: Page, rule_id: str, enabled: Annotated[str, Form(max_length=5)]) -> Response:
    """Turn a rule on or off."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _page(v, status=refused.status, error=refused.message))
    guard.set_rule_enabled(
        v.ctx, _id(rule_id, "guard_rule_unknown", "rule"), enabled == "yes", operator.email
    )
    return redirect(v, PATH)


@router.post("/actions/{action_id}/lift")
def lift_action(v: Page, action_id: str) -> Response:
    """Lift an action: its brands go back where nothing else holds them."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _page(v, status=refused.status, error=refused.message))
    guard.lift_action(v.ctx, _id(action_id, "guard_action_unknown", "action"), operator.email)
    return redirect(v, PATH)


@router.post("/evaluate")
def evaluate(v: Page) -> Response:
    """Evaluate the rules now (the worker does it every few minutes and after each issuer statement)."""
    v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _page(v, status=refused.status, error=refused.message))
    guard.evaluate(v.ctx)
    return redirect(v, PATH)
