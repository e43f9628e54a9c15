"""Operator pages: dashboard, brands and rates, ledger, payouts and treasury, audit log, staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from voucher_exchange import i18n
from voucher_exchange.accounts import role_requests
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts.models import Role
from voucher_exchange.audit import anchoring
from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BIG_RATE_STEP_BPS, BrandStatus
from voucher_exchange.errors import InvalidInput
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.promises import service as promise_service
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.reports import service as reports
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades import views as trade_views
from voucher_exchange.web import audit_words, forms, labels, staff_words
from voucher_exchange.web.charts import volume_chart
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import Page, Visitor, check_csrf
from voucher_exchange.web.staff_page import brand_names, staff_page

router = APIRouter(prefix="/staff", dependencies=[Depends(check_csrf)], include_in_schema=False)
Field = forms.Text


@router.get("")
def dashboard(v: Page) -> Response:
    """The last 30 days; reviewers without the operator role go to their queue."""
    user = v.staff(Role.REVIEWER)
    if not user.has(Role.OPERATOR):
        return redirect(v, "/staff/review")
    settings = v.ctx.settings
    with v.ctx.uow(readonly=True) as uow:
        board = reports.dashboard(
            uow.conn, v.ctx.clock.now(), JURISDICTION_TZ[settings.jurisdiction], settings.currency
        )
        treasury = payout_service.treasury_available(uow.conn, settings.currency)
    heads = anchoring.published_heads(v.ctx, v.ctx.clock.now().date())
    names = brand_names(v)
    chart = volume_chart(
        board,
        lambda slug: names.get(slug, slug),
        lambda paid: staff_words.money_text(Money(paid, settings.currency), v.lang),
    )
    return page(v, "staff/dashboard.html", board=board, chart=chart, treasury=treasury, heads=heads)


@router.get("/brands")
def brands(v: Page) -> Response:
    """Every brand with its status and current rates."""
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        found = catalog.list_brands(uow.conn)
    return page(v, "staff/brands.html", brands=found)


def _brand_page(v: Visitor, slug: str, status: int = 200, **values: object) -> Response:
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        brand = catalog.require_brand(uow.conn, slug[:60])
        history = catalog.rate_history(uow.conn, brand.slug)
    return page(
        v,
        "staff/brand.html",
        status=status,
        brand=brand,
        history=history,
        statuses=list(BrandStatus),
        **values,
    )


@router.get("/brands/{slug}")
def brand(v: Page, slug: str) -> Response:
    """A brand's rate editor, rate history and status."""
    return _brand_page(v, slug)


@router.post("/brands/{slug}/rates")
async def set_rates(v: Page, slug: str, request: Request) -> Response:
    """A new rate version (bands from face value → rate %); it applies to new quotes only."""
    operator = v.staff(Role.OPERATOR)
    form = await request.form()
    on_refusal(v, lambda refused: _brand_page(v, slug, status=refused.status, error=refused.message))
    bands = []
    for i in range(10):
        rate, start = form.get(f"rate_{i}", ""), form.get(f"min_face_{i}", "")
        if not isinstance(rate, str) or not isinstance(start, str) or not rate.strip():
            continue
        min_face = (
            forms.parse_amount(start, v.ctx.settings.currency).amount if start.strip() not in ("", "0") else 0
        )
        bands.append({"min_face": min_face, "rate_bps": forms.parse_percent_bps(rate)})
    if not bands:
        raise InvalidInput("rate_invalid", "Give at least one rate.", "rate")
    bands.sort(key=lambda b: b["min_face"])
    if form.get("confirm") != "yes":
        with v.ctx.uow(readonly=True) as uow:
            big = catalog.rates_to_confirm(uow.conn, slug[:60], bands)
        if big is not None:
            return staff_page(v, "staff/rates_confirm.html", brand=big, bands=bands, step=BIG_RATE_STEP_BPS)
    catalog.change_rates(v.ctx, slug[:60], bands, operator.email)
    return redirect(v, f"/staff/brands/{slug[:60]}")


@router.post("/brands/{slug}/status")
def set_status(
    v: Page,
    slug: str,
    status: Annotated[str, Form(max_length=20)],
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Pause, suspend or reactivate a brand; suspending or lifting a suspension asks to confirm first."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _brand_page(v, slug, status=refused.status, error=refused.message))
    if status not in set(BrandStatus):
        raise InvalidInput("status_invalid", "Choose active, paused or suspended.", "status")
    wanted = BrandStatus(status)
    if confirm != "yes":
        with v.ctx.uow(readonly=True) as uow:
            change = trade_views.status_change_to_confirm(uow.conn, slug[:60], wanted)
        if change is not None:
            return staff_page(
                v,
                "staff/brand_confirm.html",
                brand=change.brand,
                wanted=change.wanted,
                in_progress=change.in_progress,
            )
    catalog.change_brand_status(v.ctx, slug[:60], wanted, operator.email)
    return redirect(v, f"/staff/brands/{slug[:60]}")


@router.get("/ledger")
def ledger_page(v: Page, trade: str = "", payout: str = "") -> Response:
    """Accounts and balances; the transfers of a trade or payout."""
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        balances = ledger_service.balances(uow.conn)
        found = reconcile_service.transfers_of(uow.conn, trade.strip()[:36], payout.strip()[:36])
    return page(v, "staff/ledger.html", balances=balances, transfers=found, trade=trade, payout=payout)


def _payouts_page(v: Visitor, status: int = 200, **values: object) -> Response:
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        screen = trade_views.payouts_screen(uow.conn, v.ctx.clock.now(), v.ctx.settings.currency)
        promise = promise_service.terms_json(promise_service.terms(uow.conn, v.ctx.settings))
    return staff_page(
        v,
        "staff/payouts.html",
        status=status,
        treasury_state=screen.treasury_state,
        pending=screen.pending,
        failed=screen.failed,
        treasury=screen.treasury,
        funding=screen.funding,
        promise=promise,
        **values,
    )


@router.get("/payouts")
def payouts_page(v: Page) -> Response:
    """Payouts in flight, failed trades, the treasury and its funding."""
    return _payouts_page(v)


@router.post("/payouts/{trade_id}/retry")
def retry(v: Page, trade_id: str) -> Response:
    """Put a failed trade back to work where it stopped."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _payouts_page(v, status=refused.status, error=refused.message))
    trade_service.retry_failed_trade(v.ctx, operator.email, trade_id[:36])
    return redirect(v, "/staff/payouts")


@router.post("/treasury/fund")
def fund(v: Page, amount: Field, reference: Field) -> Response:
    """Record money put into the payout account."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _payouts_page(v, status=refused.status, error=refused.message))
    money = forms.parse_amount(amount, v.ctx.settings.currency, "amount")
    recorded = payout_service.record_treasury_funding(v.ctx, reference, money, operator.email)
    if not recorded:
        return _payouts_page(v, status=409, error=i18n.gettext(v.lang, labels.ERRORS["funding_recorded"]))
    return redirect(v, "/staff/payouts")


@router.post("/promise")
def set_promise(
    v: Page, minutes: Field, compensation_percent: Field, window_start: Field, window_end: Field
) -> Response:
    """Set the payout-time promise for trades secured from now on (audited)."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _payouts_page(v, status=refused.status, error=refused.message))
    whole = forms.parse_whole(minutes, "minutes", "promise_minutes_invalid")
    percent = forms.parse_whole(compensation_percent, "compensation_percent", "compensation_invalid")
    promise_service.set_terms(
        v.ctx.engine,
        v.ctx.settings,
        whole,
        percent * 100,
        (window_start, window_end),
        operator.email,
        v.ctx.clock.now(),
    )
    return redirect(v, "/staff/payouts")


@router.get("/audit")
def audit_page(v: Page, action: str = "") -> Response:
    """The newest audit entries."""
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        entries = audit.recent(uow.conn, 300, action[:60] or None)
    currency = v.ctx.settings.currency
    return staff_page(
        v,
        "staff/audit.html",
        entries=entries,
        action=action,
        actions=sorted(audit_words.AUDIT_ACTION),
        action_label=lambda code: staff_words.word(audit_words.AUDIT_ACTION, code, v.lang),
        describe=lambda details: audit_words.audit_entry(details, v.lang, currency),
        subject_link=audit_words.subject_link,
    )


def _team_page(v: Visitor, status: int = 200, **values: object) -> Response:
    operator = v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        team = accounts.list_staff(uow.conn)
        waiting = role_requests.pending_requests(uow.conn, v.ctx.clock.now())
    return page(
        v, "staff/team.html", status=status, team=team, roles=list(Role), waiting=waiting, me=operator.id,
        **values,
    )  # fmt: skip


@router.get("/team")
def team(v: Page) -> Response:
    """Staff accounts and their roles; role requests waiting for a second operator."""
    return _team_page(v)


@router.post("/team")
def add_staff(v: Page, email: Field, role: Annotated[str, Form(max_length=20)]) -> Response:
    """Ask for a role for an address (a new account on approval); a second operator decides."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _team_page(v, status=refused.status, error=refused.message))
    if role not in set(Role):
        raise InvalidInput("role_invalid", "Choose a role.", "role")
    role_requests.request_new_staff(v.ctx, operator, email, Role(role))
    return redirect(v, "/staff/team")


@router.post("/team/{user_id}/roles")
async def set_roles(v: Page, user_id: str, request: Request) -> Response:
    """Ask for a staff member's roles to be replaced; a second operator decides."""
    operator = v.staff(Role.OPERATOR)
    form = await request.form()
    chosen = {Role(r) for r in form.getlist("roles") if isinstance(r, str) and r in set(Role)}
    on_refusal(v, lambda refused: _team_page(v, status=refused.status, error=refused.message))
    role_requests.request_roles(v.ctx, operator, user_id[:36], chosen)
    return redirect(v, "/staff/team")


@router.post("/team/requests/{request_id}/approve")
def approve_roles(v: Page, request_id: str) -> Response:
    """A second operator approves a role request: the roles change."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _team_page(v, status=refused.status, error=refused.message))
    role_requests.approve(v.ctx, operator, request_id[:36])
    return redirect(v, "/staff/team")


@router.post("/team/requests/{request_id}/decline")
def decline_roles(v: Page, request_id: str) -> Response:
    """Decline a role request (or withdraw one's own); nothing changes."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _team_page(v, status=refused.status, error=refused.message))
    role_requests.decline(v.ctx, operator, request_id[:36])
    return redirect(v, "/staff/team")
