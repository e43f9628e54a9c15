"""The catalog and quotes."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from voucher_exchange import idempotency
from voucher_exchange.accounts.models import User
from voucher_exchange.api.deps import Bearer, BearerToken, Ctx, IdempotencyKey, as_user_limited
from voucher_exchange.api.schemas import QuoteIn
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import Brand
from voucher_exchange.context import Context
from voucher_exchange.issuers import views as issuer_views
from voucher_exchange.issuers.views import BrandGuard
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quotes
from voucher_exchange.quotes.models import Quote
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.security import throttle
from voucher_exchange.trades.seller_view import promise_for_quote

router = APIRouter()


def brand_json(b: Brand, guard: BrandGuard, tz: ZoneInfo) -> dict[str, Any]:
    """A brand as the API shows it; `status_reason` (ko/en) when the issuer guard paused or suspended it."""
    shown = {
        "slug": b.slug,
        "name": {"ko": b.name_ko, "en": b.name_en},
        "currency": b.currency,
        "status": b.status.value,
        "face_values": b.face_values.as_json(),
        "rate_version": b.rates.version,
        "rates": [{"min_face": r.min_face, "rate_bps": r.rate_bps} for r in b.rates.bands],
        "code": {
            "length": b.code_format.length,
            "alphabet": b.code_format.alphabet,
            "pin_required": b.code_format.pin_length is not None,
            "pin_length": b.code_format.pin_length,
        },
        "issuer": issuer_views.issuer_json(b, guard),
    }
    reason = issuer_views.status_reason(guard, b.status, tz)
    if reason is not None:
        shown["status_reason"] = reason
    return shown


def quote_json(q: Quote) -> dict[str, Any]:
    """A quote as the API shows it."""
    return {
        "id": q.id,
        "brand": q.brand,
        "face_value": q.face_value.as_json(),
        "rate_bps": q.rate_bps,
        "rate_version": q.rate_version,
        "fee": q.fee.as_json(),
        "payout": q.payout.as_json(),
        "expires_at": q.expires_at.isoformat().replace("+00:00", "Z"),
    }


@router.get("/brands")
def list_brands(ctx: Ctx) -> dict[str, Any]:
    """The brands this exchange buys, with current rates and status."""
    tz = ZoneInfo(JURISDICTION_TZ[ctx.settings.jurisdiction])
    with ctx.uow(readonly=True) as uow:
        brands = catalog.list_brands(uow.conn, ctx.settings.currency)
        guards = issuer_views.brand_guards(uow.conn, brands)
    return {"brands": [brand_json(b, guards[b.slug], tz) for b in brands]}


@router.post("/quotes", status_code=201)
async def create_quote(
    body: QuoteIn, token: BearerToken, ctx: Ctx, key: IdempotencyKey = None
) -> JSONResponse:
    """A binding quote, valid for 15 minutes, for one use (limited per account and address: 429)."""
    return await quote(ctx, token, body, key)


async def quote(ctx: Context, token: Bearer, body: QuoteIn, key: str | None) -> JSONResponse:
    """`POST /quotes` once its input is read (here and on the thin path, api/thin.py)."""
    face = Money(body.face_value.amount, body.face_value.currency)
    # Only a key's stored request is compared with the next one: without a key, nothing to hash.
    request_body = body.model_dump(mode="json") if key is not None else None

    def make(user: User) -> idempotency.Result:
        def work(uow: Any) -> idempotency.Result:
            made = quotes.create_quote(uow.conn, ctx.settings, ctx.clock, user, body.brand, face)
            promise = promise_for_quote(uow.conn, ctx.settings, made.fee, made.created_at, made.expires_at)
            return 201, {**quote_json(made), "promise": promise}

        return idempotency.run(ctx, user.id, key, "POST /quotes", request_body, work)

    status, payload = await as_user_limited(
        ctx, token, lambda user: throttle.quote(user.id, token.client_ip), make
    )
    return JSONResponse(payload, status_code=status)
