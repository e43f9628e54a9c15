"""KYC tier 2: a seller uploads an ID document; reviewers list, view and decide documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response

from voucher_exchange.api.deps import Ctx, CurrentUser, Reviewer
from voucher_exchange.api.schemas import DocumentDecisionIn
from voucher_exchange.identity import documents
from voucher_exchange.identity.document_models import IdentityDocument

router = APIRouter()

# The paths that take a document, with a larger body limit than the rest (api/guards.py).
DOCUMENT_UPLOAD_PATHS = ("/api/v1/me/identity/documents", "/account/identity-document")
UPLOAD_MARGIN_BYTES = 64 * 1024
# An ID image must not stay in any cache, shared or the browser's.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _shown(doc: IdentityDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "kind": doc.kind.value,
        "status": doc.status.value,
        "reason": doc.reason.value if doc.reason else None,
        "content_type": doc.content_type,
        "size_bytes": doc.size_bytes,
        "uploaded_at": doc.uploaded_at.isoformat(),
        "decided_at": doc.decided_at.isoformat() if doc.decided_at else None,
    }


@router.post("/me/identity/documents", status_code=202)
def upload_document(
    user: CurrentUser,
    ctx: Ctx,
    document: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(max_length=20)],
) -> JSONResponse:
    """Upload a photo or scan of my ID (JPEG, PNG or PDF) for a reviewer; tier 2 once approved."""
    data = document.file.read(ctx.settings.identity_document_max_bytes + 1)
    doc = documents.upload_document(ctx, user, kind, data)
    return JSONResponse({"id": doc.id, "kind": doc.kind.value, "status": doc.status.value}, status_code=202)


@router.get("/review/identity-documents")
def pending_documents(user: Reviewer, ctx: Ctx) -> dict[str, Any]:
    """Documents waiting for a reviewer, oldest first (never the image)."""
    with ctx.uow(readonly=True) as uow:
        found = documents.pending_documents(uow.conn)
    return {
        "documents": [
            {
                **_shown(q.document),
                "seller_id": q.document.user_id,
                "seller_email": q.seller_email,
                "legal_name": q.legal_name,
                "birth_date": q.birth_date,
            }
            for q in found
        ]
    }


@router.get("/review/identity-documents/{document_id}/file")
def document_file(document_id: str, user: Reviewer, ctx: Ctx) -> Response:
    """The document's image, for a reviewer; every view is an audit entry."""
    content_type, data = documents.view_document(ctx, user, document_id)
    return Response(data, media_type=content_type, headers={**NO_STORE, "Content-Disposition": "inline"})


@router.post("/review/identity-documents/{document_id}/decision")
def decide_document(document_id: str, body: DocumentDecisionIn, user: Reviewer, ctx: Ctx) -> dict[str, Any]:
    """Approve (the seller becomes tier 2 at once) or reject with a reason code."""
    decided = documents.decide_document(ctx, user, document_id, body.outcome, body.reason, body.note)
    return _shown(decided)
