"""Identity document SQL: the `identity_documents` table (identity owns it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from voucher_exchange.db.schema import identity_documents
from voucher_exchange.identity.document_models import (
    DocumentKind,
    DocumentStatus,
    IdentityDocument,
    RejectReason,
)

_c = identity_documents.c


def _to_document(row: Any) -> IdentityDocument:
    return IdentityDocument(
        id=row.id,
        user_id=row.user_id,
        kind=DocumentKind(row.kind),
        content_type=row.content_type,
        size_bytes=int(row.size_bytes),
        sha256=row.sha256,
        file_name=row.file_name,
        status=DocumentStatus(row.status),
        reason=RejectReason(row.reason) if row.reason else None,
        note=row.note,
        uploaded_at=row.uploaded_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        file_deleted_at=row.file_deleted_at,
    )


def insert_document(conn: Connection, doc: IdentityDocument) -> None:
    """Keep a new document's row (its file is already written)."""
    conn.execute(
        insert(identity_documents).values(
            id=doc.id,
            user_id=doc.user_id,
            kind=doc.kind.value,
            content_type=doc.content_type,
            size_bytes=doc.size_bytes,
            sha256=doc.sha256,
            file_name=doc.file_name,
            status=doc.status.value,
            uploaded_at=doc.uploaded_at,
        )
    )


def get(conn: Connection, document_id: str) -> IdentityDocument | None:
    """One document by id."""
    row = conn.execute(select(identity_documents).where(_c.id == document_id)).first()
    return _to_document(row) if row else None


def latest_of(conn: Connection, user_id: str) -> IdentityDocument | None:
    """The seller's most recent document."""
    query = (
        select(identity_documents)
        .where(_c.user_id == user_id)
        .order_by(_c.uploaded_at.desc(), _c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return _to_document(row) if row else None


def pending(conn: Connection, limit: int = 200) -> list[IdentityDocument]:
    """Documents waiting for a reviewer, oldest first."""
    query = (
        select(identity_documents)
        .where(_c.status == DocumentStatus.PENDING.value)
        .order_by(_c.uploaded_at, _c.id)
        .limit(limit)
    )
    return [_to_document(r) for r in conn.execute(query)]


def decide(
    conn: Connection,
    document_id: str,
    status: DocumentStatus,
    reason: RejectReason | None,
    note: str,
    reviewer_id: str,
    now: datetime,
) -> bool:
    """Record a decision on a pending document; False when it was no longer pending."""
    result = conn.execute(
        update(identity_documents)
        .where((_c.id == document_id) & (_c.status == DocumentStatus.PENDING.value))
        .values(
            status=status.value,
            reason=reason.value if reason else None,
            note=note,
            decided_at=now,
            decided_by=reviewer_id,
        )
    )
    return result.rowcount == 1


def with_files_decided_before(conn: Connection, before: datetime, limit: int) -> list[IdentityDocument]:
    """Decided documents whose file is still kept and whose decision is older than `before`."""
    query = (
        select(identity_documents)
        .where(_c.file_name.is_not(None) & _c.decided_at.is_not(None) & (_c.decided_at <= before))
        .order_by(_c.decided_at, _c.id)
        .limit(limit)
    )
    return [_to_document(r) for r in conn.execute(query)]


def with_files_of(conn: Connection, user_id: str) -> list[IdentityDocument]:
    """The seller's documents whose file is still kept."""
    query = select(identity_documents).where((_c.user_id == user_id) & _c.file_name.is_not(None))
    return [_to_document(r) for r in conn.execute(query)]


def all_with_files(conn: Connection) -> list[IdentityDocument]:
    """Every document whose file is still kept (master-key rotation re-encrypts them)."""
    query = select(identity_documents).where(_c.file_name.is_not(None)).order_by(_c.id)
    return [_to_document(r) for r in conn.execute(query)]


def forget_file(conn: Connection, document_id: str, now: datetime) -> bool:
    """Mark a document's file as deleted (the row and decision stay); False when it already was."""
    result = conn.execute(
        update(identity_documents)
        .where((_c.id == document_id) & _c.file_name.is_not(None))
        .values(file_name=None, file_deleted_at=now)
    )
    return result.rowcount == 1


def withdraw_pending(conn: Connection, user_id: str, now: datetime) -> None:
    """Close an erased seller's pending documents (rejected, no reason), so no reviewer waits on them."""
    conn.execute(
        update(identity_documents)
        .where((_c.user_id == user_id) & (_c.status == DocumentStatus.PENDING.value))
        .values(status=DocumentStatus.REJECTED.value, note="account erased", decided_at=now)
    )
