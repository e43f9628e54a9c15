"""Staff endpoints: the review queue and ledger balances."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from voucher_exchange import idempotency
from voucher_exchange.api.deps import Ctx, IdempotencyKey, Lang, Operator, Reviewer
from voucher_exchange.api.schemas import AppealAnswerIn, ReviewDecisionIn
from voucher_exchange.disputes import service as dispute_service
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.review import service as review_service
from voucher_exchange.trades.models import TradeStatus
from voucher_exchange.trades.seller_view import view

router = APIRouter()


@router.get("/review/trades")
def review_queue(
    user: Reviewer,
    ctx: Ctx,
    lang: Lang,
    status: Annotated[TradeStatus, Query()] = TradeStatus.IN_REVIEW,
    reason: Annotated[str | None, Query(max_length=60)] = None,
    min_amount: Annotated[int | None, Query(ge=0, le=10**12)] = None,
    max_amount: Annotated[int | None, Query(ge=0, le=10**12)] = None,
    older_than_minutes: Annotated[int | None, Query(ge=0, le=10**6)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Held trades, oldest first, with evidence; filter by reason, amount and age."""
    wanted = review_service.QueueFilter(status, reason, min_amount, max_amount, older_than_minutes, limit)
    with ctx.uow(readonly=True) as uow:
        found = review_service.queue_items(uow.conn, wanted, lang, ctx.clock.now())
    return {"trades": found.items, "total": found.total, "oldest_age_seconds": found.oldest_age_seconds}


@router.post("/review/trades/{trade_id}/decision")
def decide(
    trade_id: str,
    body: ReviewDecisionIn,
    user: Reviewer,
    ctx: Ctx,
    lang: Lang,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Approve or reject a held trade, with a note."""

    def work(uow: Any) -> idempotency.Result:
        decided = review_service.decide(
            uow.conn,
            ctx.clock,
            user,
            trade_id[:64],
            body.outcome,
            body.note,
            body.reason,
            ctx.settings.dual_approval_threshold,
        )
        uow.after_commit(ctx.wake_workers)
        return 200, view(uow.conn, decided, lang).data

    path = f"POST /review/trades/{trade_id[:64]}/decision"
    status, payload = idempotency.run(ctx, user.id, key, path, body.model_dump(mode="json"), work)
    return JSONResponse(payload, status_code=status)


@router.get("/ledger/balances")
def balances(user: Operator, ctx: Ctx) -> dict[str, Any]:
    """Every ledger account's balance (debits − credits), posted and pending."""
    with ctx.uow(readonly=True) as uow:
        return {"accounts": ledger_service.balances(uow.conn)}


@router.get("/review/appeals")
def appeals(user: Reviewer, ctx: Ctx) -> dict[str, Any]:
    """Sellers' appeals against refusals and reversals, oldest first."""
    with ctx.uow(readonly=True) as uow:
        found = dispute_service.open_appeals(uow.conn)
    return {
        "appeals": [
            {
                "trade_id": a.trade_id,
                "kind": a.kind,
                "reason": a.reason,
                "owed": a.owed,
                "note": a.message,
                "message": a.message,
                "appealed_at": a.appealed_at.isoformat(),
            }
            for a in found
        ]
    }


@router.post("/review/appeals/{trade_id}/decision")
def answer_appeal(
    trade_id: str, body: AppealAnswerIn, user: Reviewer, ctx: Ctx, lang: Lang, key: IdempotencyKey = None
) -> JSONResponse:
    """Answer an appeal: a refusal upheld or overturned; a reversal upheld or its debt written off."""

    def work(uow: Any) -> idempotency.Result:
        dispute_service.answer_appeal(uow.conn, ctx.clock, user, trade_id[:64], body.outcome, body.note)
        trade = review_service.trade(uow.conn, trade_id[:64])
        return 200, view(uow.conn, trade, lang).data

    path = f"POST /review/appeals/{trade_id[:64]}/decision"
    status, payload = idempotency.run(ctx, user.id, key, path, body.model_dump(mode="json"), work)
    return JSONResponse(payload, status_code=status)
