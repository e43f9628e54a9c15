"""KYC tier 2 use cases: a seller uploads an identity document, a reviewer decides, the file expires.

The image is checked (size, type read from its bytes) before anything is kept, written as an
encrypted file outside the database, and its row holds only what it is and the decision. Only
reviewers read it back, each time with an audit entry. An approval raises the seller to tier 2 in
the same transaction, so the pipeline's next screening uses tier 2's limits. The file is deleted
once the operator's retention period after the decision has passed (the worker's recurring
`identity.purge_documents` job) or when the account is erased; the row and decision stay.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import IdentityStatus, User, normalise_name
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge, UnsupportedType
from voucher_exchange.identity import document_files as files
from voucher_exchange.identity import document_repository as repo
from voucher_exchange.identity.document_models import (
    TIER_TWO,
    DocumentKind,
    DocumentStatus,
    IdentityDocument,
    RejectReason,
    sniff,
)
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.security.vault import Vault

PURGE_CHUNK = 100


def _kind(text: str) -> DocumentKind:
    try:
        return DocumentKind(text)
    except ValueError:
        raise InvalidInput(
            "document_kind_invalid",
            "Choose the kind of document: id_card, driver_license or passport.",
            "kind",
        ) from None


def check_may_upload(conn: Connection, user: User) -> None:
    """Only a tier-1 seller with no document waiting may upload one."""
    if user.kyc_tier >= TIER_TWO:
        raise Conflict("kyc_tier2_already", "Your account is already at tier 2.")
    if user.identity_status is not IdentityStatus.VERIFIED or user.kyc_tier < 1:
        raise Forbidden(
            "kyc_tier1_required",
            "Verify your identity and add a bank account in your own name (tier 1) before you upload an ID.",
        )
    latest = repo.latest_of(conn, user.id)
    if latest is not None and latest.status is DocumentStatus.PENDING:
        raise Conflict(
            "identity_document_pending",
            "Your document is waiting for a reviewer; the outcome will show on your account page.",
        )


def upload_document(ctx: Context, user: User, kind: str, data: bytes) -> IdentityDocument:
    """Use case: keep a seller's ID document for review; refused before anything is written.

    `data` may be one byte longer than the limit (the caller reads no further): that is too large.
    """
    chosen = _kind(kind)
    limit = ctx.settings.identity_document_max_bytes
    if len(data) > limit:
        raise TooLarge(
            "document_too_large", f"The file may be at most {limit // (1024 * 1024)} MB.", "document"
        )
    if not data:
        raise InvalidInput("document_empty", "Choose a photo or scan of your ID.", "document")
    content_type = sniff(data[:8])
    if content_type is None:
        raise UnsupportedType(
            "document_type_unsupported", "Upload a JPEG, PNG or PDF file of your ID.", "document"
        )
    with ctx.uow(readonly=True) as uow:
        check_may_upload(uow.conn, user)
    doc_id = str(uuid.uuid4())
    directory = ctx.settings.identity_document_dir
    name = files.write(directory, ctx.vault, doc_id, data)
    now = ctx.clock.now()
    doc = IdentityDocument(
        doc_id, user.id, chosen, content_type, len(data), hashlib.sha256(data).hexdigest(), name,
        DocumentStatus.PENDING, None, None, now, None, None, None,
    )  # fmt: skip
    try:
        with ctx.uow() as uow:
            seller = accounts.by_id(uow.conn, user.id, lock=True)  # one upload at a time per seller
            assert seller is not None
            check_may_upload(uow.conn, seller)
            repo.insert_document(uow.conn, doc)
            details = {"kind": chosen.value, "content_type": content_type, "size_bytes": len(data)}
            audit.record(uow.conn, user.email, "identity.document_uploaded", doc_id, details, now)
            uow.commit()
    except BaseException:
        files.delete(directory, name)
        raise
    return doc


def status_of(conn: Connection, user_id: str) -> dict[str, Any]:
    """`{status}` of the seller's latest document (`none` without one), with `reason` when rejected."""
    latest = repo.latest_of(conn, user_id)
    if latest is None:
        return {"status": DocumentStatus.NONE.value}
    shown: dict[str, Any] = {"status": latest.status.value}
    if latest.status is DocumentStatus.REJECTED and latest.reason is not None:
        shown["reason"] = latest.reason.value
    return shown


@dataclass(frozen=True)
class QueuedDocument:
    """A pending document as the reviewers' queue shows it (never the image)."""

    document: IdentityDocument
    seller_email: str
    legal_name: str | None
    birth_date: str | None


def pending_documents(conn: Connection) -> list[QueuedDocument]:
    """Documents waiting for a reviewer, oldest first, with the seller's verified name and birth date."""
    found = []
    for doc in repo.pending(conn):
        seller = accounts.by_id(conn, doc.user_id)
        found.append(
            QueuedDocument(
                doc,
                seller.email if seller else "",
                seller.legal_name if seller else None,
                seller.birth_date.isoformat() if seller and seller.birth_date else None,
            )
        )
    return found


def document(conn: Connection, document_id: str) -> QueuedDocument:
    """One document with its seller, for a reviewer."""
    doc = repo.get(conn, document_id[:36])
    if doc is None:
        raise NotFound("identity_document_unknown", "There is no such identity document.")
    seller = accounts.by_id(conn, doc.user_id)
    born = seller.birth_date.isoformat() if seller and seller.birth_date else None
    return QueuedDocument(doc, seller.email if seller else "", seller.legal_name if seller else None, born)


def view_document(ctx: Context, reviewer: User, document_id: str) -> tuple[str, bytes]:
    """Use case: a reviewer opens a document's image; the view is audited before the bytes leave."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        doc = repo.get(uow.conn, document_id[:36])
        if doc is None:
            raise NotFound("identity_document_unknown", "There is no such identity document.")
        if doc.file_name is None:
            raise NotFound(
                "identity_document_deleted",
                "The file was deleted after its retention period; the decision is kept.",
            )
        audit.record(
            uow.conn, reviewer.email, "identity.document_viewed", doc.id, {"kind": doc.kind.value}, now
        )
        uow.commit()
    return doc.content_type, files.read(ctx.settings.identity_document_dir, ctx.vault, doc.id, doc.file_name)


def _conflict(conn: Connection, reviewer: User, seller: User) -> str | None:
    """How a reviewer is linked to a document's seller: themselves, their identity, a bank account."""
    if reviewer.id == seller.id:
        return "your own document"
    if (
        seller.legal_name is not None
        and reviewer.legal_name is not None
        and normalise_name(seller.legal_name) == normalise_name(reviewer.legal_name)
        and seller.birth_date == reviewer.birth_date
    ):
        return "your identity"
    if payout_repo.account_fingerprints_of(conn, seller.id) & payout_repo.account_fingerprints_of(
        conn, reviewer.id
    ):
        return "a bank account you registered"
    return None


def decide_document(
    ctx: Context, reviewer: User, document_id: str, outcome: str, reason: str | None, note: str = ""
) -> IdentityDocument:
    """Use case: approve (the seller becomes tier 2 at once) or reject with a reason code.

    Separation of duties as for trades: a reviewer with no verified identity, or linked to the
    seller (the same account, identity or bank account), may not decide.
    """
    if outcome not in ("approve", "reject"):
        raise InvalidInput("outcome_invalid", "Decide approve or reject.", "outcome")
    rejected_for: RejectReason | None = None
    if outcome == "reject":
        try:
            rejected_for = RejectReason(reason or "")
        except ValueError:
            codes = ", ".join(r.value for r in RejectReason)
            raise InvalidInput("reason_invalid", f"To reject, give one of: {codes}.", "reason") from None
    note = note.strip()[:1000]
    if reviewer.identity_status is not IdentityStatus.VERIFIED or reviewer.legal_name is None:
        raise Forbidden(
            "reviewer_identity_required",
            "Verify your identity (Account → Identity) before you decide documents: "
            "without it nobody can tell whether a document is linked to you.",
        )
    now = ctx.clock.now()
    with ctx.uow() as uow:
        conn = uow.conn
        doc = repo.get(conn, document_id[:36])
        if doc is None:
            raise NotFound("identity_document_unknown", "There is no such identity document.")
        seller = accounts.by_id(conn, doc.user_id, lock=True)
        assert seller is not None
        link = _conflict(conn, reviewer, seller)
        if link is not None:
            raise Forbidden(
                "reviewer_conflict",
                f"You cannot decide this document: it is linked to you ({link}). Another reviewer must.",
            )
        if doc.status is not DocumentStatus.PENDING:
            raise Conflict("identity_document_decided", f"This document was already {doc.status.value}.")
        if outcome == "approve" and (
            seller.identity_status is not IdentityStatus.VERIFIED or seller.kyc_tier < 1
        ):
            raise Conflict(
                "kyc_tier1_required",
                "The seller is no longer verified at tier 1; the document cannot raise them.",
            )
        status = DocumentStatus.APPROVED if outcome == "approve" else DocumentStatus.REJECTED
        if not repo.decide(conn, doc.id, status, rejected_for, note, reviewer.id, now):
            raise Conflict("identity_document_decided", "Another reviewer decided this document first.")
        if status is DocumentStatus.APPROVED:
            accounts.raise_tier(conn, seller.id, TIER_TWO)
        details = {"seller": seller.id, "reason": rejected_for.value if rejected_for else None, "note": note}
        audit.record(conn, reviewer.email, f"identity.document_{status.value}", doc.id, details, now)
        uow.commit()
    return replace(doc, status=status, reason=rejected_for, note=note, decided_at=now, decided_by=reviewer.id)


def purge_expired(ctx: Context) -> int:
    """Delete the files of documents decided longer ago than the retention period; how many."""
    retention = timedelta(days=ctx.settings.identity_document_retention_days)
    directory = ctx.settings.identity_document_dir
    deleted = 0
    while True:
        now = ctx.clock.now()
        with ctx.uow(readonly=True) as uow:
            due = repo.with_files_decided_before(uow.conn, now - retention, PURGE_CHUNK)
        for doc in due:
            assert doc.file_name is not None
            # The file first: a crash before the row is marked only makes the next run try again.
            files.delete(directory, doc.file_name)
            with ctx.uow() as uow:
                if repo.forget_file(uow.conn, doc.id, now):
                    audit.record(
                        uow.conn, "worker", "identity.document_deleted", doc.id, {"why": "retention"}, now
                    )
                    deleted += 1
                uow.commit()
        if len(due) < PURGE_CHUNK:
            return deleted


def purge_job(ctx: Context, _ref: str) -> None:
    """The recurring job: delete identity documents past their retention."""
    purge_expired(ctx)


def forget_account(uow: UnitOfWork, directory: Path, user_id: str, now: datetime) -> int:
    """Erasure: close the seller's pending documents and delete their files once the erasure commits.

    The rows (what was decided, when, by whom) stay for AML retention; no image does.
    """
    conn = uow.conn
    repo.withdraw_pending(conn, user_id, now)
    kept = repo.with_files_of(conn, user_id)
    for doc in kept:
        repo.forget_file(conn, doc.id, now)
    names = [doc.file_name for doc in kept if doc.file_name is not None]

    def delete_files() -> None:
        for name in names:
            files.delete(directory, name)

    uow.after_commit(delete_files)
    return len(kept)


def reencrypt_files(uow: UnitOfWork, directory: Path, old: Vault, new: Vault) -> int:
    """Master-key rotation: re-encrypt every kept document file with `new`, installed when `uow` commits.

    The copies are written beside the originals first; they replace them only after the
    rotation's transaction committed, so a rollback leaves every file readable with the old key.
    """
    names: list[str] = []
    try:
        for doc in repo.all_with_files(uow.conn):
            assert doc.file_name is not None
            files.write_rotated(directory, old, new, doc.id, doc.file_name)
            names.append(doc.file_name)
    except BaseException:
        for name in names:
            files.discard_rotated(directory, name)
        raise

    def install() -> None:
        for name in names:
            files.install_rotated(directory, name)

    uow.after_commit(install)
    return len(names)
