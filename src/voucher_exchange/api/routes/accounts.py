"""Sign-up, sessions, the seller's profile, identity and payout destinations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from voucher_exchange import idempotency
from voucher_exchange.accounts import recovery
from voucher_exchange.accounts import service as accounts
from voucher_exchange.api.deps import BearerToken, ClientIp, Ctx, CurrentUser, IdempotencyKey, Lang
from voucher_exchange.api.schemas import (
    DestinationIn,
    IdentityIn,
    LogIn,
    NewPasswordIn,
    PasswordResetIn,
    SignUp,
)
from voucher_exchange.identity import documents as identity_documents
from voucher_exchange.identity import service as identity
from voucher_exchange.money import Money
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.risk import screening
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import REQUIRED_CONSENTS

router = APIRouter()


# Responses that carry a token must not be kept by any cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("/accounts", status_code=201)
def sign_up(body: SignUp, ctx: Ctx, lang: Lang, ip: ClientIp) -> JSONResponse:
    """Create a seller account; limited per address and per e-mail (429 with Retry-After)."""
    ticked = set(body.consents) if body.consents is not None else set(REQUIRED_CONSENTS)
    with ctx.uow(readonly=True) as uow:
        acceptance = trust.accept_current(uow.conn, ticked, "api", ctx.clock.now())
    session = accounts.register(ctx, body.email, body.password, ip, language=lang, consents=acceptance)
    payload = {"id": session.user.id, "email": session.user.email, "token": session.token}
    return JSONResponse(payload, status_code=201, headers=NO_STORE)


@router.post("/sessions", status_code=201)
def log_in(body: LogIn, ctx: Ctx, ip: ClientIp) -> JSONResponse:
    """Log in; returns a new bearer token (expires after 30 days without use).

    Limited per address and per e-mail and address (429 with Retry-After). Staff with
    two-factor send `totp` too; without it the answer is 401 `totp_required`.
    """
    session = accounts.log_in(ctx, body.email, body.password, ip, totp=body.totp)
    return JSONResponse({"token": session.token}, status_code=201, headers=NO_STORE)


@router.post("/password-resets", status_code=202)
def ask_password_reset(body: PasswordResetIn, ctx: Ctx, ip: ClientIp) -> dict[str, str]:
    """Mail a reset link if the address has an account; the answer is the same either way.

    Limited per address and per e-mail (429 with Retry-After).
    """
    recovery.request_password_reset(ctx, body.email, ip)
    return {"status": "accepted"}


@router.post("/password-resets/{token}", status_code=204)
def reset_password(token: str, body: NewPasswordIn, ctx: Ctx) -> Response:
    """Choose a new password with a mailed link: it works once, within an hour; every session ends."""
    recovery.reset_password(ctx, token, body.password)
    return Response(status_code=204, headers=NO_STORE)


@router.post("/email-verifications/{token}", status_code=204)
def verify_email(token: str, ctx: Ctx) -> Response:
    """Confirm an e-mail address with a mailed link (works once, within 48 hours)."""
    recovery.verify_email(ctx, token)
    return Response(status_code=204)


@router.post("/me/email-verification", status_code=202)
def resend_verification(user: CurrentUser, ctx: Ctx) -> dict[str, str]:
    """Mail a new verification link (nothing when already verified); limited per account."""
    recovery.resend_verification(ctx, user)
    return {"status": "accepted"}


@router.delete("/sessions/current", status_code=204)
def log_out(token: BearerToken, user: CurrentUser, ctx: Ctx) -> Response:
    """Log out: this token stops working."""
    accounts.sign_out(ctx, token.token)
    return Response(status_code=204)


@router.delete("/sessions", status_code=204)
def log_out_everywhere(user: CurrentUser, ctx: Ctx) -> Response:
    """Sign out everywhere: every API token and web session of mine stops working."""
    accounts.sign_out_everywhere(ctx, user)
    return Response(status_code=204)


@router.get("/me")
def me(user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """Who I am, my KYC tier and what I can still sell today and this month."""
    limits = screening.TIER_LIMITS[ctx.settings.jurisdiction][min(user.kyc_tier, 2)]
    day, month = screening.period_starts(ctx.clock.now(), ctx.settings.jurisdiction)
    with ctx.uow(readonly=True) as uow:
        used_day = trade_service.used_since(uow.conn, user.id, day)
        used_month = trade_service.used_since(uow.conn, user.id, month)
        owed = reversal_service.owed_by_person(uow.conn, ctx.vault, user.id, ctx.settings.currency)
        document = identity_documents.status_of(uow.conn, user.id)
    cur = ctx.settings.currency
    return {
        "id": user.id,
        "email": user.email,
        "kyc_tier": user.kyc_tier,
        "identity_status": user.identity_status.value,
        # KYC tier 2: the latest ID document's review (`none`, `pending`, `approved`, `rejected` + reason).
        "identity_document": document,
        "email_verified": user.email_verified,
        "roles": sorted(r.value for r in user.roles),
        "limits": {
            "daily_remaining": Money(max(limits.daily - used_day, 0), cur).as_json(),
            "monthly_remaining": Money(max(limits.monthly - used_month, 0), cur).as_json(),
        },
        # Money the person owes after reversals, on this account and on their other accounts
        # (same verified identity, bank account or closed login's e-mail); the next payouts
        # settle it first. `receivable_linked` is the part owed on the other accounts.
        "receivable": owed.total.as_json(),
        "receivable_linked": owed.linked.as_json(),
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
