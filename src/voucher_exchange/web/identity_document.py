"""KYC tier 2 on the site: a seller uploads an ID document; reviewers see the queue and decide."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response

from voucher_exchange.accounts.models import Role
from voucher_exchange.identity import documents
from voucher_exchange.identity.document_models import DocumentKind, RejectReason
from voucher_exchange.risk import screening
from voucher_exchange.web.forms import NoteText, Text
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _upload_page(v: Visitor, status: int = 200, **values: Any) -> Response:
    user = v.seller()
    with v.ctx.uow(readonly=True) as uow:
        shown = documents.status_of(uow.conn, user.id)
    tiers = screening.TIER_LIMITS[v.ctx.settings.jurisdiction]
    return page(
        v,
        "identity_document.html",
        status=status,
        me=user,
        document=shown,
        tier_one=tiers[1],
        tier_two=tiers[2],
        kinds=[k.value for k in DocumentKind],
        max_mb=v.ctx.settings.identity_document_max_bytes // (1024 * 1024),
        retention_days=v.ctx.settings.identity_document_retention_days,
        **values,
    )


@router.get("/account/identity-document")
def upload_form(v: Page) -> Response:
    """Raise my limits: upload an ID document for a reviewer."""
    return _upload_page(v)


@router.post("/account/identity-document")
def upload(
    v: Page,
    kind: Text,
    document: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Keep the seller's document for review (checked before anything is written)."""
    user = v.seller()
    on_refusal(v, lambda refused: _upload_page(v, status=refused.status, error=refused.message, kind=kind))
    data = document.file.read(v.ctx.settings.identity_document_max_bytes + 1) if document else b""
    documents.upload_document(v.ctx, user, kind, data)
    return redirect(v, "/account/identity-document")


def _queue_page(v: Visitor, status: int = 200, **values: Any) -> Response:
    v.staff(Role.REVIEWER)
    with v.ctx.uow(readonly=True) as uow:
        found = documents.pending_documents(uow.conn)
    return page(v, "staff/identity_documents.html", status=status, found=found, **values)


@router.get("/staff/identity-documents")
def queue(v: Page) -> Response:
    """ID documents waiting for a reviewer, oldest first."""
    return _queue_page(v)


def _document_page(v: Visitor, document_id: str, status: int = 200, **values: Any) -> Response:
    reviewer = v.staff(Role.REVIEWER)
    with v.ctx.uow(readonly=True) as uow:
        found = documents.document(uow.conn, document_id)
    return page(
        v,
        "staff/identity_document.html",
        status=status,
        d=found,
        own=found.document.user_id == reviewer.id,
        reasons=[r.value for r in RejectReason],
        **values,
    )


@router.get("/staff/identity-documents/{document_id}")
def one_document(v: Page, document_id: str) -> Response:
    """One document: the seller's verified name and birth date beside the image, approve or reject."""
    return _document_page(v, document_id[:36])


@router.get("/staff/identity-documents/{document_id}/file")
def document_file(v: Page, document_id: str) -> Response:
    """The image itself, for a reviewer only; each view is an audit entry; never cached."""
    reviewer = v.staff(Role.REVIEWER)
    content_type, data = documents.view_document(v.ctx, reviewer, document_id[:36])
    return Response(data, media_type=content_type, headers={**NO_STORE, "Content-Disposition": "inline"})


@router.post("/staff/identity-documents/{document_id}/decision")
def decide(
    v: Page,
    document_id: str,
    outcome: Annotated[str, Form(max_length=10)],
    reason: Annotated[str, Form(max_length=40)] = "",
    note: NoteText = "",
) -> Response:
    """Approve (the seller becomes tier 2 at once) or reject with a reason."""
    reviewer = v.staff(Role.REVIEWER)
    document_id = document_id[:36]
    on_refusal(
        v, lambda refused: _document_page(v, document_id, status=refused.status, error=refused.message)
    )
    documents.decide_document(v.ctx, reviewer, document_id, outcome, reason or None, note)
    return redirect(v, "/staff/identity-documents")
