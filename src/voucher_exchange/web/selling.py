"""Selling pages: take a quote, sell one voucher or many, follow trades, receipts, cancel."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response

from voucher_exchange import i18n
from voucher_exchange.accounts.models import User
from voucher_exchange.catalog import service as catalog
from voucher_exchange.disputes import service as dispute_service
from voucher_exchange.errors import DomainError, InvalidInput
from voucher_exchange.identity import service as identity
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.promises import service as promise_service
from voucher_exchange.quotes import repository as quote_store
from voucher_exchange.quotes import service as quotes
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.security import throttle
from voucher_exchange.trades import batch, seller_view
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TradeStatus
from voucher_exchange.web import forms, labels, profile_cache
from voucher_exchange.web import receipts as receipt_pages
from voucher_exchange.web import story as trade_story
from voucher_exchange.web.forms import CodesText, Text
from voucher_exchange.web.refusals import Refusal, on_refusal
from voucher_exchange.web.render import page, redirect, unchanged
from voucher_exchange.web.seller import CALC_COOKIE, brands_on_sale, face_chips, guard_notices
from voucher_exchange.web.session import Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


@router.post("/quotes")
def take_quote(v: Page, brand: Text, face: Text, again: Text = "") -> Response:
    """A binding quote, then the form to sell under it."""
    user = v.seller()
    on_refusal(v, lambda refused: _home_refused(v, refused, brand, face))
    throttle.hit(v.ctx, *throttle.quote(user.id, v.client_ip))
    amount = forms.parse_amount(face, v.ctx.settings.currency)
    quote = quotes.take_quote(v.ctx, user, brand, amount)
    v.cookies[CALC_COOKIE] = ""  # taken: the account page offers it no more
    # After a balance mismatch: the refused trade's id (never the code) says which voucher to sell.
    return redirect(v, f"/sell/{quote.id}" + (f"?again={again[:36]}" if again else ""))


def _home_refused(v: Visitor, refused: Refusal, brand: str, face: str) -> Response:
    """The rates page again, the refusal where the calculator's answer goes."""
    brands = brands_on_sale(v)
    calc = {"error": refused.message}
    chips = face_chips(brands, brand, face)
    notices = guard_notices(v, brands)
    return page(
        v, "home.html", status=refused.status, brands=brands, brand=brand, face=face, calc=calc, chips=chips,
        notices=notices,
    )  # fmt: skip


def _sell_page(v: Visitor, quote_id: str, status: int = 200, **values: Any) -> Response:
    user = v.seller()
    with v.ctx.uow(readonly=True) as uow:
        quote = quote_store.get(uow.conn, quote_id[:36])
        if quote is None or quote.user_id != user.id:
            raise InvalidInput("quote_unknown", "There is no such quote. Ask for a new one.")
        brand = catalog.require_brand(uow.conn, quote.brand)
        # What the quote said about the payout-time promise when it was made, stated before selling.
        promise = seller_view.promise_for_quote(
            uow.conn, v.ctx.settings, quote.fee, quote.created_at, quote.expires_at
        )
    verified = [d for d in identity.list_destinations(v.ctx, user) if d.status == "verified"]
    again = str(values.pop("again", "") or "")[:36]
    again_masked = trade_service.voucher_to_sell_again(v.ctx, user, again)[2] if again else None
    return page(
        v,
        "sell.html",
        again=again if again_masked else "",
        again_masked=again_masked,
        status=status,
        quote=quote,
        brand=brand,
        destinations=verified,
        expired=quote.is_expired(v.ctx.clock.now()) or quote.trade_id is not None,
        promise=promise,
        methods=list(AcquisitionMethod),
        today=v.ctx.clock.now().date().isoformat(),
        **values,
    )


def sell_page(v: Visitor, quote_id: str, **values: Any) -> Response:
    """The sell form under a quote (the demo's sandbox helper fills in a minted voucher's code and PIN)."""
    return _sell_page(v, quote_id, **values)


@router.get("/sell/batch")
def batch_form(v: Page) -> Response:
    """Sell many vouchers of one brand and face value."""
    v.seller()
    return page(v, "batch.html", **_batch_values(v))


def _batch_values(v: Visitor, **kept: Any) -> dict[str, Any]:
    user = v.seller()
    verified = [d for d in identity.list_destinations(v.ctx, user) if d.status == "verified"]
    return {
        "brands": brands_on_sale(v),
        "methods": list(AcquisitionMethod),
        "destinations": verified,
        "today": v.ctx.clock.now().date().isoformat(),
        **kept,
    }


@router.post("/sell/batch")
async def preview_batch(
    v: Page,
    brand: Text,
    face: Text,
    acquired_on: Annotated[str, Form(max_length=10)],
    payout_destination_id: Text,
    method: Text = "",
    codes: CodesText = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Count, total face, fee and payout before anything is sold; the batch waits under a one-time id."""
    user = v.seller()
    # What was chosen comes back; the codes do not (they are secrets until sold).
    kept = {"brand": brand, "face": face, "method": method, "acquired_on": acquired_on}
    kept["chosen_destination"] = payout_destination_id
    on_refusal(
        v,
        lambda refused: page(
            v, "batch.html", status=refused.status, error=refused.message, **_batch_values(v, **kept)
        ),
    )
    text = codes
    if file is not None and file.filename:
        raw = await file.read(batch.MAX_FILE_BYTES + 1)
        batch.check_file_size(len(raw))
        text = raw.decode("utf-8-sig", errors="replace")
    forms.check_text(text, "codes")
    lines = batch.parse_lines(text)
    amount = forms.parse_amount(face, v.ctx.settings.currency)
    if method not in set(AcquisitionMethod):
        raise InvalidInput("method_invalid", "Choose how you got the vouchers.", "method")
    _refuse_carrier_billing(AcquisitionMethod(method))
    found = batch.preview(
        v.ctx,
        user,
        brand,
        amount,
        lines,
        AcquisitionMethod(method),
        forms.parse_date(acquired_on, "acquired_on"),
        payout_destination_id[:36],
    )
    minutes = v.ctx.settings.quote_ttl_seconds // 60
    names = _brand_names(v)
    return page(
        v, "batch_preview.html", preview=found, brand_names=names, brand=brand, face=amount, minutes=minutes
    )


@router.post("/sell/batch/{batch_id}")
def sell_batch(v: Page, batch_id: str) -> Response:
    """Sell the previewed batch once, then show its results (a reload or second click sells nothing)."""
    user = v.seller()
    on_refusal(v, lambda refused: _batch_refused(v, user, batch_id, refused))
    throttle.hit(v.ctx, *throttle.trade(user.id, v.client_ip))
    batch.sell_previewed(v.ctx, user, batch_id[:36], v.client_ip)
    return redirect(v, f"/sell/batch/{batch_id[:36]}")


def _batch_refused(v: Visitor, user: User, batch_id: str, refused: Refusal) -> Response:
    """A batch already sold (a second click, a reload) shows its results; else the form with the error."""
    try:
        stored, _ = batch.lines_of(v.ctx, user, batch_id[:36])
    except DomainError:  # no such batch of this seller's: the form, with the first refusal
        stored = None
    if stored is not None and stored.submitted_at is not None:
        return redirect(v, f"/sell/batch/{stored.id}")
    return page(v, "batch.html", status=refused.status, error=refused.message, **_batch_values(v))


def _batch_results(v: Visitor, batch_id: str) -> dict[str, Any]:
    stored, lines = batch.lines_of(v.ctx, v.seller(), batch_id[:36])
    rendered = [
        {
            "number": ln.number,
            "masked": ln.masked,
            "trade_id": ln.trade_id,
            "status": ln.status,
            "error": forms.message(DomainError(ln.error_code, ln.error_message or ""), v.lang)
            if ln.error_code
            else None,
        }
        for ln in lines
    ]
    waiting = any(ln.status is not None and ln.status not in batch.SETTLED for ln in lines)
    held = sum(1 for ln in lines if ln.status == TradeStatus.IN_REVIEW.value)
    review_minutes = None
    if held:
        with v.ctx.uow(readonly=True) as uow:
            review_minutes = seller_view.expected_review_minutes(uow.conn)
    return {
        "batch": stored,
        "results": rendered,
        "waiting": waiting,
        "held": held,
        "review_minutes": review_minutes,
    }


@router.get("/sell/batch/{batch_id}")
def batch_results(v: Page, batch_id: str) -> Response:
    """Each line of a sold batch and where its trade stands, live."""
    return page(v, "batch_results.html", **_batch_results(v, batch_id))


@router.get("/sell/batch/{batch_id}/lines")
def batch_lines(v: Page, batch_id: str) -> Response:
    """The lines alone; htmx polls them until every line has settled."""
    return page(v, "_batch_lines.html", **_batch_results(v, batch_id))


def _refuse_carrier_billing(method: AcquisitionMethod) -> None:
    """Stopped in the form: nothing submitted, claimed or stored (the API and issuer check still refuse)."""
    if method is AcquisitionMethod.CARRIER_BILLING:
        raise InvalidInput(
            "carrier_billing_prohibited",
            "We never buy vouchers paid for with mobile carrier billing.",
            "method",
        )


@router.get("/sell/{quote_id}")
def sell_form(v: Page, quote_id: str, again: str = "") -> Response:
    """The quote and the form to sell one voucher under it (`again`: a trade refused for its balance
    whose voucher this sells, without re-typing the code)."""
    return _sell_page(v, quote_id, again=again)


@router.post("/sell/{quote_id}")
def sell(
    v: Page,
    quote_id: str,
    method: Text,
    acquired_on: Annotated[str, Form(max_length=10)],
    payout_destination_id: Text,
    code: Text = "",
    pin: Text = "",
    again: Text = "",
) -> Response:
    """Submit the voucher; the trade page follows it."""
    user = v.seller()
    # What was chosen comes back; the code and PIN never do (a re-sold voucher's stay on the server).
    kept = {
        "method": method,
        "acquired_on": acquired_on,
        "chosen_destination": payout_destination_id,
        "again": again,
    }
    on_refusal(
        v, lambda refused: _sell_page(v, quote_id, status=refused.status, error=refused.message, **kept)
    )
    throttle.hit(v.ctx, *throttle.trade(user.id, v.client_ip))
    if method not in set(AcquisitionMethod):
        raise InvalidInput("method_invalid", "Choose how you got the voucher.", "method")
    _refuse_carrier_billing(AcquisitionMethod(method))
    if again and not code:
        code, kept_pin, _ = trade_service.voucher_to_sell_again(v.ctx, user, again[:36])
        pin = pin or kept_pin or ""
    cmd = trade_service.SubmitTrade(
        quote_id=quote_id[:36],
        code=code,
        pin=pin or None,
        method=AcquisitionMethod(method),
        acquired_on=forms.parse_date(acquired_on, "acquired_on"),
        payout_destination_id=payout_destination_id,
        client_ip=v.client_ip,
        device_id=(v.request.headers.get("x-device-id") or "")[:64] or None,
    )
    trade_id = trade_service.sell_voucher(v.ctx, user, cmd)
    return redirect(v, f"/trades/{trade_id}")


@router.get("/trades")
def history(v: Page, status: str = "", brand: str = "") -> Response:
    """The seller's trades, newest first, filtered by status and brand."""
    user = v.seller()
    wanted = TradeStatus(status) if status in set(TradeStatus) else None
    with v.ctx.uow(readonly=True) as uow:
        found = [t.data for t in trade_service.list_own(uow.conn, user, v.lang, 200, wanted)]
    if brand:
        found = [t for t in found if t["brand"] == brand]
    return page(
        v,
        "history.html",
        trades=found,
        chosen_status=wanted or "",
        brand=brand,
        brand_names=_brand_names(v),
        brands=brands_on_sale(v),
        statuses=list(TradeStatus),
    )


def _own_trade(v: Visitor, trade_id: str) -> dict[str, Any]:
    user = v.seller()
    with v.ctx.uow(readonly=True) as uow:
        return trade_service.get_own(uow.conn, user, trade_id[:64], v.lang).data


def _brand_names(v: Visitor) -> dict[str, str]:
    return {b.slug: (b.name_ko if v.lang == "ko" else b.name_en) for b in brands_on_sale(v)}


# Where a seller may need a person: a hold, a refusal, a failure, a reversal.
SUPPORTED = {"in_review", "rejected", "failed", "reversed"}


def _trade_context(v: Visitor, trade_id: str) -> dict[str, Any]:
    """A trade and what the seller can do next: other accounts after a refused payout, a new quote."""
    t = _own_trade(v, trade_id)
    others = []
    refused_account = None
    if t["can_redirect_payout"]:
        user = v.seller()
        kept = identity.list_destinations(v.ctx, user)
        others = [d for d in kept if d.status == "verified" and d.id != t["payout_destination_id"]]
        refused_account = next((d for d in kept if d.id == t["payout_destination_id"]), None)
    paid_account = None
    sent = None  # what reached the bank, when paid: a debt after a reversal may have taken part
    apart = None  # the compensation's own transfer, after a payout the bank executed late
    if t["status"] == "paid":
        kept = identity.list_destinations(v.ctx, v.seller())
        paid_account = next((d for d in kept if d.id == t["payout_destination_id"]), None)
        with v.ctx.uow(readonly=True) as uow:
            sent = {
                "amount": payout_service.sent_to_bank(uow.conn, t["id"]),
                "currency": t["payout"]["currency"],
            }
            apart = payout_service.compensation_sent_apart(uow.conn, t["id"])
    offer = t["new_quote_offer"]
    offer_face = str(i18n.major_units(Money(**offer["face_value"]))) if offer else None
    told = trade_story.story(t["events"]) if trade_story.went_off_path(t["events"]) else []
    with v.ctx.uow(readonly=True) as uow:
        terms = promise_service.terms_json(promise_service.terms(uow.conn, v.ctx.settings))
    shown = {
        "t": t,
        "other_destinations": others,
        "refused_account": refused_account,
        "paid_account": paid_account,
        "sent": sent,
        "compensation_apart": apart.value if apart is not None else None,
        # The timeline is also a fragment (no footer): the support action needs the contact itself.
        "support": profile_cache.business_profile(v.ctx, v.offline) if t["status"] in SUPPORTED else None,
        "offer_face": offer_face,
        "story": told,
        "terms": terms,
    }
    return shown | {"shown": _digest(v, shown), "evidence": _evidence(v, t)}


def _evidence(v: Visitor, t: dict[str, Any]) -> dict[str, Any] | None:
    """The evidence record of a refused or reversed trade, to show in plain words (None: none)."""
    if t["status"] not in ("rejected", "reversed"):
        return None
    with v.ctx.uow(readonly=True) as uow:
        return dispute_service.own_record(uow.conn, v.seller(), t["id"])


def _digest(v: Visitor, shown: dict[str, Any]) -> str:
    """A fingerprint of what the timeline shows: the poll swaps only when it changed."""
    text = json.dumps([v.lang, shown], sort_keys=True, default=repr)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@router.get("/trades/{trade_id}")
def trade_page(v: Page, trade_id: str) -> Response:
    """One trade with its live timeline and what the seller can do next."""
    return page(v, "trade.html", brand_names=_brand_names(v), **_trade_context(v, trade_id))


@router.get("/trades/{trade_id}/timeline")
def timeline(v: Page, trade_id: str, shown: str = "") -> Response:
    """The timeline alone; htmx polls it until the trade rests.

    An unchanged timeline answers 204 and nothing is swapped: replacing the same buttons
    every second would swallow a click whose press and release straddle the swap.
    """
    context = _trade_context(v, trade_id)
    if shown == context["shown"]:
        return unchanged(v)
    return page(v, "_timeline.html", oob=True, **context)


@router.post("/trades/{trade_id}/payout")
def redirect_payout(v: Page, trade_id: str, payout_destination_id: Text) -> Response:
    """After the bank refused the payout: send it to another of the seller's own accounts."""
    user = v.seller()
    return _trade_action(
        v,
        trade_id,
        lambda: trade_service.redirect_trade_payout(v.ctx, user, trade_id[:64], payout_destination_id[:36]),
    )


def _trade_action(v: Visitor, trade_id: str, act: Callable[[], None]) -> Response:
    """Do one thing to a seller's trade (one use case); back to its page, or the page with the error."""
    on_refusal(
        v,
        lambda refused: page(
            v,
            "trade.html",
            status=refused.status,
            brand_names=_brand_names(v),
            error=refused.message,
            **_trade_context(v, trade_id),
        ),
    )
    act()
    return redirect(v, f"/trades/{trade_id[:64]}")


@router.get("/trades/{trade_id}/receipt")
def receipt(v: Page, trade_id: str) -> Response:
    """A printable receipt for a paid trade, with its signature and the signed JSON to download."""
    t = _own_trade(v, trade_id)
    signed = receipt_pages.signed_receipt(v, t["id"])
    paid_at = signed.receipt["paid_at"]
    user = v.seller()
    # Written for a person: who was paid, into which account (masked), and how to check it.
    account = next(
        (d for d in identity.list_destinations(v.ctx, user) if d.id == t["payout_destination_id"]), None
    )
    verify_link = "/receipts/verify?" + urlencode(
        {"number": labels.trade_number(t["id"]), "amount": str(i18n.major_units(Money(**t["payout"])))}
    )
    return page(
        v,
        "receipt.html",
        t=t,
        brand_names=_brand_names(v),
        paid_at=paid_at,
        signed=signed,
        seller_name=user.legal_name,
        account=account,
        verify_link=verify_link,
    )


@router.get("/trades/{trade_id}/cancel")
def confirm_cancel(v: Page, trade_id: str) -> Response:
    """Ask before a trade is cancelled or withdrawn (the POST below does it)."""
    t = _own_trade(v, trade_id)
    if not t["can_cancel"]:
        return redirect(v, f"/trades/{t['id']}")
    held = t["status"] == "in_review"
    return page(
        v,
        "confirm.html",
        heading=i18n.gettext(v.lang, "Withdraw this trade?")
        if held
        else i18n.gettext(v.lang, "Cancel this trade?"),
        explanation=[
            i18n.gettext(v.lang, "Nothing has been taken from your voucher: it stays yours, as it is."),
            i18n.gettext(v.lang, "This cannot be undone; to sell the voucher later, sell it again."),
        ],
        action=f"/trades/{t['id']}/cancel",
        yes=i18n.gettext(v.lang, "Yes, withdraw it") if held else i18n.gettext(v.lang, "Yes, cancel it"),
        no=i18n.gettext(v.lang, "No, keep the trade"),
        back=f"/trades/{t['id']}",
    )


@router.post("/trades/{trade_id}/cancel")
def cancel(v: Page, trade_id: str) -> Response:
    """Withdraw a trade before verification or while it is reviewed."""
    user = v.seller()
    return _trade_action(v, trade_id, lambda: trade_service.cancel_trade(v.ctx, user, trade_id[:64]))


@router.post("/trades/{trade_id}/appeal")
def appeal(v: Page, trade_id: str, note: Annotated[str, Form(max_length=2000)]) -> Response:
    """Contest a refusal resting on the issuer's answer, or a reversal; once."""
    user = v.seller()
    return _trade_action(v, trade_id, lambda: dispute_service.appeal_trade(v.ctx, user, trade_id[:64], note))


@router.get("/trades/{trade_id}/evidence.json")
def evidence_download(v: Page, trade_id: str) -> Response:
    """The signed evidence record as a file: verified like a receipt (the verify page, `receipt verify`)."""
    signed = dispute_service.own_evidence(v.ctx, v.seller(), trade_id[:64])
    disposition = f'attachment; filename="evidence-{signed.record["trade_id"]}.json"'
    return JSONResponse(
        signed.document(), headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )
