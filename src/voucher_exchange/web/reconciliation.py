"""The operator's reconciliation page: the last runs of `reconcile issuer|rail`, with what did not match."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from voucher_exchange.accounts.models import Role
from voucher_exchange.reconcile import daily
from voucher_exchange.web.render import page
from voucher_exchange.web.session import Page, check_csrf

router = APIRouter(prefix="/staff", dependencies=[Depends(check_csrf)], include_in_schema=False)


@router.get("/reconciliation")
def reconciliation(v: Page) -> Response:
    """The newest reconciliation runs first, each with its unmatched lines."""
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        runs = daily.recent_runs(uow.conn, 30)
    return page(v, "staff/reconciliation.html", runs=runs)
