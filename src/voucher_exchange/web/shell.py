"""The trust shell: how it works, fees, FAQ, the consent texts, and the operator's pages for them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response
from pydantic import AfterValidator

from voucher_exchange import i18n
from voucher_exchange.accounts.models import Role
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import Brand, BrandStatus
from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import Money, fee_for
from voucher_exchange.security.input_policy import multi_line, single_line
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import (
    BODY_MAX,
    PROFILE_FIELDS,
    TITLE_MAX,
    ConsentDocument,
    ConsentKind,
)
from voucher_exchange.web import profile_cache
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
Line = Annotated[str, Form(max_length=300), AfterValidator(single_line)]
Title = Annotated[str, Form(max_length=TITLE_MAX), AfterValidator(single_line)]
Body = Annotated[str, Form(max_length=BODY_MAX), AfterValidator(multi_line)]


def documents(v: Visitor) -> dict[ConsentKind, ConsentDocument]:
    """The current consent texts (the built-in demo ones translated for the reader)."""
    with v.ctx.uow(readonly=True) as uow:
        found = trust.current_documents(uow.conn)
    return {kind: _readable(doc, v.lang) for kind, doc in found.items()}


def _readable(doc: ConsentDocument, lang: str) -> ConsentDocument:
    if not doc.is_demo:
        return doc
    return ConsentDocument(
        doc.kind, doc.version, i18n.gettext(lang, doc.title), i18n.gettext(lang, doc.body), None, None
    )


def _example(brand: Brand) -> dict[str, Any] | None:
    """A worked example for the fees page: a common face value, the fee and the payout."""
    if brand.status is not BrandStatus.ACTIVE:
        return None
    values = brand.face_values
    typical = {"KRW": 50_000, "USD": 5_000}.get(brand.currency, 0)
    if values.allowed:
        amount = min(values.allowed, key=lambda a: abs(a - typical))
    else:
        amount = min(max(typical, values.minimum), values.maximum)
        amount -= (amount - values.minimum) % values.step
    face = Money(amount, brand.currency)
    rate = brand.rates.rate_for(amount)
    fee = fee_for(face, rate)
    return {"face": face, "rate_bps": rate, "fee_bps": 10_000 - rate, "fee": fee, "payout": face - fee}


@router.get("/how-it-works")
def how_it_works(v: Page) -> Response:
    """The four steps of a sale and how long each takes."""
    return page(v, "shell/how_it_works.html", quote_minutes=v.ctx.settings.quote_ttl_seconds // 60)


@router.get("/fees")
def fees(v: Page) -> Response:
    """Rate and fee per brand, from the live catalogue, with a worked example each."""
    with v.ctx.uow(readonly=True) as uow:
        brands = catalog.list_brands(uow.conn, v.ctx.settings.currency)
    return page(v, "shell/fees.html", rows=[(b, _example(b)) for b in brands])


@router.get("/faq")
def faq(v: Page) -> Response:
    """Frequently asked questions."""
    return page(v, "shell/faq.html", window_days=v.ctx.settings.liability_window_days)


@router.get("/terms")
def terms(v: Page) -> Response:
    """The current terms of use."""
    return page(v, "shell/document.html", doc=documents(v)[ConsentKind.TERMS])


@router.get("/privacy")
def privacy(v: Page) -> Response:
    """The current privacy text (collection and use of personal data) and the optional marketing one."""
    docs = documents(v)
    return page(v, "shell/document.html", doc=docs[ConsentKind.PRIVACY], extra=docs[ConsentKind.MARKETING])


def _profile_page(v: Visitor, status: int = 200, **values: Any) -> Response:
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        current = trust.profile(uow.conn)
    values.setdefault("form", current.as_fields())
    return page(v, "staff/business.html", status=status, current=current, names=PROFILE_FIELDS, **values)


@router.get("/staff/business")
def business(v: Page) -> Response:
    """The business profile shown in every footer and on receipts."""
    return _profile_page(v)


@router.post("/staff/business")
def save_business(
    v: Page,
    business_name: Line,
    representative: Line,
    registration_number: Line,
    mail_order_number: Line,
    address: Line,
    support_phone: Line,
    support_email: Line,
    support_hours: Line,
    kakao_channel_url: Line = "",
    service_name: Line = "",
) -> Response:
    """Save the business profile (audited, before → after)."""
    operator = v.staff(Role.OPERATOR)
    sent = {
        "service_name": service_name,
        "business_name": business_name,
        "representative": representative,
        "registration_number": registration_number,
        "mail_order_number": mail_order_number,
        "address": address,
        "support_phone": support_phone,
        "support_email": support_email,
        "support_hours": support_hours,
        "kakao_channel_url": kakao_channel_url,
    }
    on_refusal(
        v,
        lambda refused: _profile_page(
            v, status=refused.status, form=sent, error=refused.message, field=refused.field
        ),
    )
    trust.save_profile(v.ctx, sent, operator.email)
    profile_cache.forget(v.ctx)
    return redirect(v, "/staff/business?saved=1")


def _documents_page(v: Visitor, status: int = 200, **values: Any) -> Response:
    v.staff(Role.OPERATOR)
    with v.ctx.uow(readonly=True) as uow:
        history = {kind: trust.document_history(uow.conn, kind) for kind in ConsentKind}
    return page(
        v,
        "staff/documents.html",
        status=status,
        current=documents(v),
        history=history,
        kinds=list(ConsentKind),
        **values,
    )


@router.get("/staff/terms")
def consent_documents(v: Page) -> Response:
    """The consent texts: publish a new version; every old version is kept."""
    return _documents_page(v)


@router.post("/staff/terms")
def publish(v: Page, kind: Annotated[str, Form(max_length=20)], title: Title, body: Body) -> Response:
    """Publish a new version of one consent text (new sign-ups accept it; nobody's past consent changes)."""
    operator = v.staff(Role.OPERATOR)
    on_refusal(
        v,
        lambda refused: _documents_page(
            v, status=refused.status, error=refused.message, chosen=kind, title=title, body=body
        ),
    )
    if kind not in set(ConsentKind):
        raise InvalidInput("document_kind_invalid", "Choose which text to publish.", "kind")
    trust.publish_document(v.ctx, ConsentKind(kind), title, body, operator.email)
    return redirect(v, "/staff/terms")
