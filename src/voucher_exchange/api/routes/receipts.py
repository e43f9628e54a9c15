"""Signed receipts: a seller's receipt (under /api/v1) and the published keys (at the site root)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from voucher_exchange.api.deps import Ctx, CurrentUser
from voucher_exchange.receipts import service as receipt_service
from voucher_exchange.receipts.models import KEYS_PATH

router = APIRouter()
well_known = APIRouter()


@router.get("/trades/{trade_id}/receipt")
def get_receipt(trade_id: str, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """My paid trade's receipt: `{receipt, signature, key_id}`, Ed25519 over the canonical JSON.

    A reversed trade's answer also carries `reversed`: the signed reversal notice.
    """
    return receipt_service.own_document(ctx, user, trade_id[:64])


@well_known.get(KEYS_PATH)
def published_keys(ctx: Ctx) -> JSONResponse:
    """Every public key receipts were ever signed with (anyone may fetch it)."""
    with ctx.uow(readonly=True) as uow:
        document = receipt_service.published(uow.conn)
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})
