"""Reviewer pages: the queue, one trade's evidence, approve or reject, reveal a code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from voucher_exchange.accounts.models import Role
from voucher_exchange.disputes import service as dispute_service
from voucher_exchange.errors import DomainError
from voucher_exchange.review import evidence, seller_file
from voucher_exchange.review import service as review
from voucher_exchange.risk.reasons import REASONS
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.web import forms, staff_words
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import Page, Visitor, check_csrf
from voucher_exchange.web.staff_page import staff_page

router = APIRouter(prefix="/staff/review", dependencies=[Depends(check_csrf)], include_in_schema=False)


def _amount(text: str, v: Visitor) -> int | None:
    return forms.parse_amount(text, v.ctx.settings.currency, "amount").amount if text.strip() else None


@router.get("")
def queue(v: Page, reason: str = "", min_amount: str = "", max_amount: str = "") -> Response:
    """Held trades, oldest first."""
    v.staff(Role.REVIEWER)
    error = None
    try:
        wanted = review.QueueFilter(
            reason=reason[:60] or None, min_amount=_amount(min_amount, v), max_amount=_amount(max_amount, v)
        )
    except DomainError as exc:  # not a refusal: a mistyped filter shows the whole queue, and says why
        wanted, error = review.QueueFilter(), forms.message(exc, v.lang)
    with v.ctx.uow(readonly=True) as uow:
        found = review.queue_items(uow.conn, wanted, v.lang, v.ctx.clock.now())
        appeals = dispute_service.open_appeals(uow.conn)
    return staff_page(
        v,
        "staff/review_queue.html",
        found=found,
        appeals=appeals,
        reason=reason,
        reason_codes=sorted(REASONS),
        min_amount=min_amount,
        max_amount=max_amount,
        error=error,
    )


def _trade_page(v: Visitor, trade_id: str, status: int = 200, **values: object) -> Response:
    v.staff(Role.REVIEWER)
    with v.ctx.uow(readonly=True) as uow:
        file = evidence.trade_file(uow.conn, trade_id[:64], v.lang)
        linked = seller_file.related(uow.conn, file["id"])
        reveals = evidence.reveal_requests_for(uow.conn, file["id"], v.ctx.clock.now())
    close = {o: sorted(r) for o, r in review.CLOSE_REASONS.items()}
    return staff_page(
        v,
        "staff/review_trade.html",
        status=status,
        t=file,
        related=linked,
        reveals=reveals,
        me=v.staff(Role.REVIEWER).id,
        close=close,
        issuer_facts=lambda answer: staff_words.issuer_facts(
            answer, v.lang, JURISDICTION_TZ[v.ctx.settings.jurisdiction], v.ctx.settings.currency
        ),
        **values,
    )


@router.get("/sellers/{user_id}")
def seller(v: Page, user_id: str) -> Response:
    """One seller for staff: identity, bank accounts (masked), trades, risk history, same-person accounts."""
    v.staff(Role.REVIEWER)
    with v.ctx.uow(readonly=True) as uow:
        file = seller_file.seller_file(uow.conn, user_id[:36])
    return staff_page(v, "staff/seller.html", s=file)


@router.get("/{trade_id}")
def trade(v: Page, trade_id: str) -> Response:
    """One trade's evidence and the decision form."""
    return _trade_page(v, trade_id)


@router.post("/{trade_id}/decision")
def decide(
    v: Page,
    trade_id: str,
    outcome: Annotated[str, Form(max_length=10)],
    note: forms.NoteText = "",
    reason: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Approve or reject with a note; the trade resumes or stops."""
    reviewer = v.staff(Role.REVIEWER)
    on_refusal(
        v, lambda refused: _trade_page(v, trade_id, status=refused.status, error=refused.message, note=note)
    )
    review.decide_trade(v.ctx, reviewer, trade_id[:64], outcome, note, reason or None)
    return redirect(v, "/staff/review")


@router.post("/{trade_id}/reveal")
def reveal(v: Page, trade_id: str) -> Response:
    """Show the voucher's code to a permitted staff member (audited); never put it in a URL."""
    staff = v.staff(Role.REVIEWER)
    # An htmx swap: the refusal comes back as the same fragment, not a page.
    on_refusal(
        v, lambda refused: page(v, "staff/_revealed.html", status=refused.status, error=refused.message)
    )
    secret = evidence.reveal_voucher_code(v.ctx, staff, trade_id[:64])
    return page(v, "staff/_revealed.html", secret=secret)


@router.post("/{trade_id}/reveal-request")
def request_reveal(v: Page, trade_id: str) -> Response:
    """Ask to see an unredeemed voucher's code; another staff member with reveal_codes approves."""
    staff = v.staff(Role.REVIEWER)
    on_refusal(v, lambda refused: _trade_page(v, trade_id, status=refused.status, error=refused.message))
    evidence.request_reveal(v.ctx, staff, trade_id[:64])
    return redirect(v, f"/staff/review/{trade_id[:64]}")


@router.post("/reveal-requests/{request_id}/approve")
def approve_reveal(v: Page, request_id: str, trade_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    """A second staff member with reveal_codes lets the requester see the code once."""
    staff = v.staff(Role.REVIEWER)
    on_refusal(
        v,
        lambda refused: (
            _trade_page(v, trade_id, status=refused.status, error=refused.message)
            if trade_id
            else page(v, "staff/_revealed.html", status=refused.status, error=refused.message)
        ),
    )
    approved = evidence.approve_reveal(v.ctx, staff, request_id[:36])
    return redirect(v, f"/staff/review/{approved.trade_id}")


@router.post("/appeals/{trade_id}")
def answer_appeal(
    v: Page,
    trade_id: str,
    outcome: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=2000)],
) -> Response:
    """Answer an appeal: uphold a refusal or a reversal, overturn a refusal, or write a debt off."""
    reviewer = v.staff(Role.REVIEWER)
    dispute_service.decide_appeal(v.ctx, reviewer, trade_id[:64], outcome, note)
    return redirect(v, "/staff/review")
