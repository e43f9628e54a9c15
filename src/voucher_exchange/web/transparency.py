"""The public transparency report page: the same figures as `/transparency.json`, in words."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.transparency import service as transparency
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page
from voucher_exchange.web.session import Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
MONTHS_LISTED = 12
Month = Annotated[str | None, Query(max_length=20)]


def _months(today: date) -> list[str]:
    """This month and the eleven before it, newest first ("YYYY-MM")."""
    year, month = today.year, today.month
    listed = []
    for _ in range(MONTHS_LISTED):
        listed.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return listed


def _page(v: Visitor, month: str | None, status: int = 200, **values: Any) -> Response:
    zone = ZoneInfo(JURISDICTION_TZ[v.ctx.settings.jurisdiction])
    today = v.ctx.clock.now().astimezone(zone).date()
    report = values.pop("report", None)
    days = None
    if report is not None:
        first = report.period.start.astimezone(zone).date()
        last = report.period.end.astimezone(zone).date() - timedelta(days=1)
        days = (first, last) if last >= first else None
    query = f"?month={month}" if month and report is not None else ""
    return page(
        v,
        "transparency.html",
        status=status,
        report=report,
        days=days,
        month=month or "",
        months=_months(today),
        json_url=f"/transparency.json{query}",
        **values,
    )


@router.get("/transparency")
def transparency_page(v: Page, month: Month = None) -> Response:
    """How the exchange behaved over the last 30 days or a month (no sign-in)."""
    chosen = month or None
    on_refusal(v, lambda refused: _page(v, chosen, status=refused.status, error=refused.message))
    return _page(v, chosen, report=transparency.transparency_report(v.ctx, chosen))
