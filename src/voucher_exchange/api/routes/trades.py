"""Selling: submit, follow, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection

from voucher_exchange import idempotency
from voucher_exchange.accounts.models import User
from voucher_exchange.api.deps import (
    Bearer,
    BearerToken,
    Ctx,
    CurrentUser,
    IdempotencyKey,
    Lang,
    as_user,
    as_user_limited,
    as_user_narrow,
)
from voucher_exchange.api.schemas import AppealIn, PayoutRedirectIn, TradeIn
from voucher_exchange.context import Context
from voucher_exchange.disputes import service as dispute_service
from voucher_exchange.security import throttle
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TradeStatus

router = APIRouter()
TradeId = Annotated[str, Query(max_length=36)]


@router.post("/trades", status_code=202)
async def submit(
    body: TradeIn, token: BearerToken, ctx: Ctx, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    """Sell one voucher under a quote; processing continues in the background (limited: 429)."""
    device_id = (request.headers.get("x-device-id") or "")[:64] or None
    return await sell(ctx, token, body, device_id, key)


async def sell(
    ctx: Context, token: Bearer, body: TradeIn, device_id: str | None, key: str | None
) -> JSONResponse:
    """`POST /trades` once its input is read (here and on the thin path, api/thin.py)."""
    # The body holds the voucher code: only its hash is kept with a key (none without one).
    request_body = body.model_dump(mode="json") if key is not None else None
    ip = token.client_ip

    def submit_as(user: User) -> idempotency.Result:
        cmd = trade_service.SubmitTrade(
            quote_id=body.quote_id,
            code=body.voucher.code,
            pin=body.voucher.pin,
            method=body.acquisition.method,
            acquired_on=body.acquisition.acquired_on,
            payout_destination_id=body.payout_destination_id,
            client_ip=ip,
            device_id=device_id,
        )

        def work(uow: Any) -> idempotency.Result:
            trade_id = trade_service.submit(uow.conn, ctx.clock, ctx.vault, user, cmd)
            uow.after_commit(ctx.wake_workers)
            return 202, {"id": trade_id, "status": TradeStatus.RECEIVED.value}

        return idempotency.run(ctx, user.id, key, "POST /trades", request_body, work)

    status, payload = await as_user_limited(ctx, token, lambda user: throttle.trade(user.id, ip), submit_as)
    return JSONResponse(payload, status_code=status)


@router.get("/trades")
def list_trades(
    user: CurrentUser,
    ctx: Ctx,
    lang: Lang,
    status: Annotated[TradeStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """My trades, newest first."""
    with ctx.uow(readonly=True) as uow:
        views = trade_service.list_own(uow.conn, user, lang, limit, status)
    return {"trades": [v.data for v in views]}


@router.get("/trades/{trade_id}", response_model=dict[str, Any])
async def get_trade(
    trade_id: str,
    token: BearerToken,
    ctx: Ctx,
    lang: Lang,
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    """One of my trades: status, amounts, decision, history; the code masked.

    Answers with a weak `ETag`; sent back in `If-None-Match`, it gets 304 (no body) while the
    trade has not changed, after one narrow read.
    """
    return await follow(ctx, token, trade_id, lang, if_none_match)


async def follow(
    ctx: Context, token: Bearer, trade_id: str, lang: str, if_none_match: str | None
) -> Response:
    """`GET /trades/{trade_id}` once its input is read (here and on the thin path, api/thin.py)."""
    trade_id = trade_id[:64]

    def unchanged(conn: Connection, user: User) -> Response | None:
        tag = trade_service.own_tag(conn, user, trade_id, lang)
        if if_none_match is not None and _matches(if_none_match, tag):
            return Response(status_code=304, headers={"ETag": tag, "Cache-Control": "private, no-cache"})
        return None

    def read(user: User) -> Response:
        with ctx.uow(readonly=True) as uow:
            tag = trade_service.own_tag(uow.conn, user, trade_id, lang)
            headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
            if if_none_match is not None and _matches(if_none_match, tag):
                return Response(status_code=304, headers=headers)
            data = trade_service.get_own(uow.conn, user, trade_id, lang).data
        return JSONResponse(data, headers=headers)

    if if_none_match is None:
        return await as_user(ctx, token, read)
    return await as_user_narrow(ctx, token, unchanged, read)


def _matches(if_none_match: str, tag: str) -> bool:
    """RFC 9110's weak comparison: any listed tag (or `*`) equal to ours, W/ prefixes ignored."""
    ours = tag.removeprefix("W/")
    listed = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in listed or ours in listed


@router.post("/trades/{trade_id}/cancel")
def cancel(
    trade_id: str, user: CurrentUser, ctx: Ctx, lang: Lang, key: IdempotencyKey = None
) -> JSONResponse:
    """Cancel before verification, or withdraw while a person reviews it (the voucher can be sold again)."""

    def work(uow: Any) -> idempotency.Result:
        trade_service.cancel(uow.conn, ctx.clock, user, trade_id[:64])
        return 200, trade_service.get_own(uow.conn, user, trade_id[:64], lang).data

    status, payload = idempotency.run(ctx, user.id, key, f"POST /trades/{trade_id[:64]}/cancel", {}, work)
    return JSONResponse(payload, status_code=status)


@router.post("/trades/{trade_id}/payout", status_code=202)
def redirect_payout(
    trade_id: str, body: PayoutRedirectIn, user: CurrentUser, ctx: Ctx, lang: Lang, key: IdempotencyKey = None
) -> JSONResponse:
    """After the bank refused the payout: send it to another of my verified accounts (once per refusal)."""

    def work(uow: Any) -> idempotency.Result:
        trade_service.redirect_payout(uow.conn, ctx.clock, user, trade_id[:64], body.payout_destination_id)
        uow.after_commit(ctx.wake_workers)
        return 202, trade_service.get_own(uow.conn, user, trade_id[:64], lang).data

    path = f"POST /trades/{trade_id[:64]}/payout"
    status, payload = idempotency.run(ctx, user.id, key, path, body.model_dump(mode="json"), work)
    return JSONResponse(payload, status_code=status)


@router.post("/trades/{trade_id}/appeal")
def appeal(
    trade_id: str, body: AppealIn, user: CurrentUser, ctx: Ctx, lang: Lang, key: IdempotencyKey = None
) -> JSONResponse:
    """Contest a refusal resting on the issuer's answer, or a reversal I am asked to pay back; once."""

    def work(uow: Any) -> idempotency.Result:
        dispute_service.appeal(uow.conn, ctx.clock, user, trade_id[:64], body.text)
        return 202, trade_service.get_own(uow.conn, user, trade_id[:64], lang).data

    path = f"POST /trades/{trade_id[:64]}/appeal"
    status, payload = idempotency.run(ctx, user.id, key, path, body.model_dump(mode="json"), work)
    return JSONResponse(payload, status_code=status)


@router.get("/trades/{trade_id}/evidence")
async def evidence(trade_id: str, token: BearerToken, ctx: Ctx) -> dict[str, Any]:
    """The signed evidence record of my refused or reversed trade: `{record, signature, key_id}`."""

    def read(user: User) -> dict[str, Any]:
        return dispute_service.own_evidence(ctx, user, trade_id[:64]).document()

    return await as_user(ctx, token, read)
