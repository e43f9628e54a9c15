"""Sign-up, sessions, the seller's profile, identity and payout destinations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from voucher_exchange.accounts import service as accounts
from voucher_exchange.api import idempotency
from voucher_exchange.api.deps import Ctx, CurrentUser, IdempotencyKey, Lang
from voucher_exchange.api.schemas import DestinationIn, IdentityIn, LogIn, SignUp
from voucher_exchange.identity import service as identity
from voucher_exchange.money import Money
from voucher_exchange.risk import screening
from voucher_exchange.trades import repository as trades

router = APIRouter()


@router.post("/accounts", status_code=201)
def sign_up(body: SignUp, ctx: Ctx, lang: Lang) -> dict[str, Any]:
    """Create a seller account."""
    with ctx.uow() as uow:
        session = accounts.sign_up(uow.conn, str(body.email), body.password, ctx.clock.now(), language=lang)
        uow.commit()
    return {"id": session.user.id, "email": session.user.email, "token": session.token}


@router.post("/sessions", status_code=201)
def log_in(body: LogIn, ctx: Ctx, request: Request) -> dict[str, Any]:
    """Log in; returns a new bearer token. Five wrong passwords in 15 minutes lock the e-mail briefly."""
    client_ip = request.client.host if request.client else None
    session = accounts.log_in(ctx, body.email, body.password, client_ip)
    return {"token": session.token}


@router.get("/me")
def me(user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """Who I am, my KYC tier and what I can still sell today and this month."""
    limits = screening.TIER_LIMITS[ctx.settings.jurisdiction][min(user.kyc_tier, 2)]
    day, month = screening.period_starts(ctx.clock.now(), ctx.settings.jurisdiction)
    with ctx.uow(readonly=True) as uow:
        used_day = trades.used_since(uow.conn, user.id, day, "")
        used_month = trades.used_since(uow.conn, user.id, month, "")
    cur = ctx.settings.currency
    return {
        "id": user.id,
        "email": user.email,
        "kyc_tier": user.kyc_tier,
        "identity_status": user.identity_status.value,
        "roles": sorted(r.value for r in user.roles),
        "limits": {
            "daily_remaining": Money(max(limits.daily - used_day, 0), cur).as_json(),
            "monthly_remaining": Money(max(limits.monthly - used_month, 0), cur).as_json(),
        },
    }


@router.post("/me/identity")
def verify_identity(body: IdentityIn, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """Verify my identity (adults only)."""
    outcome = identity.verify_identity(
        ctx, user, body.legal_name, body.birth_date, body.phone, body.nationality
    )
    if outcome.refused:
        raise identity.identity_refusal(outcome.refused, ctx.settings.jurisdiction)
    return {"kyc_tier": outcome.kyc_tier}


@router.post("/me/payout-destinations", status_code=201)
def add_destination(
    body: DestinationIn, user: CurrentUser, ctx: Ctx, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    """Add a bank account; verified only when held in my verified legal name."""

    def work(_: Any) -> idempotency.Result:
        dest = identity.add_payout_destination(
            ctx, user, body.bank_code, body.account_number, body.holder_name
        )
        return 201, {"id": dest.id, "status": dest.status, "masked": dest.masked}

    # The rail is called outside any transaction, so the key is checked before and stored after.
    status, payload = idempotency.run_outside(
        ctx, user.id, key, "POST /me/payout-destinations", body.model_dump(mode="json"), work
    )
    return JSONResponse(payload, status_code=status)


@router.get("/me/payout-destinations")
def list_destinations(user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """My bank accounts, masked."""
    return {
        "payout_destinations": [
            {
                "id": d.id,
                "status": d.status,
                "masked": d.masked,
                "bank_code": d.bank_code,
                "holder_name": d.holder_name,
            }
            for d in identity.list_destinations(ctx, user)
        ]
    }
