"""The trust shell: how it works, fees, FAQ, the consent texts, and the operator's pages for them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
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
    NOTICE_DAYS,
    PROFILE_FIELDS,
    TITLE_MAX,
    ConsentDocument,
    ConsentKind,
    Draft,
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
    """The consent texts in force, in the reader's language (the built-in demo ones translated)."""
    with v.ctx.uow(readonly=True) as uow:
        found = trust.current_documents(uow.conn, v.ctx.clock.now())
    return {kind: _readable(doc, v.lang) for kind, doc in found.items()}


def _readable(doc: ConsentDocument, lang: str) -> ConsentDocument:
    """The document with its title and body in `lang` (Korean is the text of record)."""
    if doc.is_demo:
        title, body = i18n.gettext(lang, doc.title), i18n.gettext(lang, doc.body)
    else:
        title, body = doc.in_language(lang)
    return ConsentDocument(
        doc.kind, doc.version, title, body, doc.published_at, doc.published_by, effective_at=doc.effective_at
    )


def _public_document(v: Visitor, kind: ConsentKind, version: int | None, **values: Any) -> Response:
    """A consent text's page: the version in force (or the one asked for), and the one scheduled next."""
    now = v.ctx.clock.now()
    with v.ctx.uow(readonly=True) as uow:
        shown = trust.document_version(uow.conn, kind, version) if version else None
        upcoming = trust.scheduled_document(uow.conn, kind, now)
    current = documents(v)[kind]
    doc = _readable(shown, v.lang) if shown else current
    in_force = doc.effective_at is None or doc.effective_at <= now
    return page(
        v,
        "shell/document.html",
        doc=doc,
        in_force=in_force,
        current=current,
        upcoming=_readable(upcoming, v.lang) if upcoming and upcoming.version != doc.version else None,
        **values,
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


VersionQuery = Annotated[int | None, Query(ge=1, le=1_000_000)]


@router.get("/terms")
def terms(v: Page, version: VersionQuery = None) -> Response:
    """The terms of use in force (or the version asked for), and the date a scheduled one applies from."""
    return _public_document(v, ConsentKind.TERMS, version)


@router.get("/privacy")
def privacy(v: Page, version: VersionQuery = None) -> Response:
    """The privacy text in force (collection and use of personal data) and the optional marketing one."""
    return _public_document(v, ConsentKind.PRIVACY, version, extra=documents(v)[ConsentKind.MARKETING])


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
    now = v.ctx.clock.now()
    with v.ctx.uow(readonly=True) as uow:
        history = {kind: trust.document_history(uow.conn, kind) for kind in ConsentKind}
        current = trust.current_documents(uow.conn, now)
    today = trust.local_today(now, v.ctx.settings.jurisdiction)
    values.setdefault("form", {"effective_on": date.fromordinal(today.toordinal() + NOTICE_DAYS).isoformat()})
    return page(
        v,
        "staff/documents.html",
        status=status,
        current=current,
        history=history,
        kinds=list(ConsentKind),
        now=now,
        notice_days=NOTICE_DAYS,
        **values,
    )


@router.get("/staff/terms")
def consent_documents(v: Page, published: Annotated[str, Query(max_length=40)] = "") -> Response:
    """The consent texts: write a new version in Korean and English, preview it, publish it."""
    return _documents_page(v, published=bool(published))


def _effective_on(raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            "document_effective_date_invalid", "Enter the date the text takes effect.", "effective_on"
        ) from None


@router.post("/staff/terms")
def publish(
    v: Page,
    kind: Annotated[str, Form(max_length=20)],
    title: Title,
    body: Body,
    title_en: Title,
    body_en: Body,
    effective_on: Annotated[str, Form(max_length=20)],
    step: Annotated[str, Form(max_length=10)] = "preview",
) -> Response:
    """Preview a new version of one consent text (stores nothing), go back to edit it, or publish it:
    audited, in force from its effective date, and e-mailed to every seller who accepted the text."""
    operator = v.staff(Role.OPERATOR)
    form = {
        "kind": kind,
        "title": title,
        "body": body,
        "title_en": title_en,
        "body_en": body_en,
        "effective_on": effective_on,
    }
    on_refusal(
        v,
        lambda refused: _documents_page(
            v, status=refused.status, error=refused.message, field=refused.field, form=form
        ),
    )
    if kind not in set(ConsentKind):
        raise InvalidInput("document_kind_invalid", "Choose which text to publish.", "kind")
    if step == "edit":
        return _documents_page(v, form=form)
    draft = Draft(ConsentKind(kind), title, body, title_en, body_en, _effective_on(effective_on))
    if step != "publish":
        preview = trust.preview_document(v.ctx, draft)
        return page(v, "staff/document_preview.html", preview=preview, form=form, now=v.ctx.clock.now())
    doc = trust.publish_document(v.ctx, draft, operator.email)
    return redirect(v, f"/staff/terms?published={doc.kind.value}:{doc.version}")
