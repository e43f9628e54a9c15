"""The operator's reconciliation page: the last runs of `reconcile issuer|rail`, with what did not match.

Both pages are paged, so a run full of unmatched lines cannot make a page of unbounded size.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from voucher_exchange.accounts.models import Role
from voucher_exchange.errors import NotFound
from voucher_exchange.reconcile import daily
from voucher_exchange.web.render import page
from voucher_exchange.web.session import Page, check_csrf

router = APIRouter(prefix="/staff", dependencies=[Depends(check_csrf)], include_in_schema=False)
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
LINES_PER_PAGE = 100


@router.get("/reconciliation")
def reconciliation(v: Page, page_number: Annotated[PageNumber, Query(alias="page")] = 1) -> Response:
    """The newest reconciliation runs first, ten a page, each with its first unmatched lines."""
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        found = daily.runs_page(uow.conn, page_number)
    return page(
        v, "staff/reconciliation.html", runs=found.runs, pager=found, lines_per_run=daily.LINES_PER_RUN
    )


@router.get("/reconciliation/runs/{run_id}")
def reconciliation_run(
    v: Page, run_id: str, page_number: Annotated[PageNumber, Query(alias="page")] = 1
) -> Response:
    """One run's stored unmatched lines, a hundred a page."""
    v.staff(Role.OPERATOR)  # before the id is read: a visitor learns nothing from a bad one
    with v.ctx.uow(readonly=True) as uow:
        known = run_id.isdigit() and len(run_id) <= 12
        run = daily.stored_run(uow.conn, int(run_id)) if known else None
    if run is None:
        raise NotFound("reconciliation_run_unknown", "There is no such reconciliation run.")
    pages = max(1, -(-len(run.unmatched) // LINES_PER_PAGE))
    number = min(page_number, pages)
    lines = run.unmatched[(number - 1) * LINES_PER_PAGE : number * LINES_PER_PAGE]
    return page(v, "staff/reconciliation_run.html", run=run, lines=lines, number=number, pages=pages)
