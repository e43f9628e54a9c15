"""The public transparency report as JSON: under /api/v1 and at the site root, beside the page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from voucher_exchange.api.deps import Ctx
from voucher_exchange.transparency import service as transparency

router = APIRouter()
site_root = APIRouter()
Month = Annotated[str | None, Query(max_length=20, description="YYYY-MM; absent: the last 30 days")]


def _answer(ctx: Ctx, month: str | None) -> JSONResponse:
    report = transparency.transparency_report(ctx, month)
    return JSONResponse(report.document, headers={"Cache-Control": "public, max-age=300"})


@router.get("/transparency.json")
def transparency_json(ctx: Ctx, month: Month = None) -> JSONResponse:
    """How the exchange behaved over the last 30 days, or a month (no sign-in; docs/transparency.md)."""
    return _answer(ctx, month)


@site_root.get("/transparency.json")
def transparency_json_at_root(ctx: Ctx, month: Month = None) -> JSONResponse:
    """The same document at the site root, beside the `/transparency` page."""
    return _answer(ctx, month)
