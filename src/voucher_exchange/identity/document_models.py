"""KYC tier 2 documents as plain values: kinds, states, rejection reasons, what the bytes are.

Pure: no database, no files, no clock. The type of an upload is read from its first bytes
(magic numbers), never from the name or the Content-Type the browser sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

TIER_TWO = 2
PURGE_DOCUMENTS = "identity.purge_documents"
"""The recurring job that deletes document files past their retention."""


class DocumentKind(StrEnum):
    """What sort of identity document the seller says it is."""

    ID_CARD = "id_card"
    """A national identity card (주민등록증)."""
    DRIVER_LICENSE = "driver_license"
    """A driving licence (운전면허증)."""
    PASSPORT = "passport"
    """A passport (여권)."""


class DocumentStatus(StrEnum):
    """Where a document is in review; `none` is the seller with no document."""

    NONE = "none"
    """Nothing uploaded."""
    PENDING = "pending"
    """Uploaded, waiting for a reviewer."""
    APPROVED = "approved"
    """A reviewer approved it: the seller is tier 2."""
    REJECTED = "rejected"
    """A reviewer rejected it, with a reason; the seller may upload another."""


class RejectReason(StrEnum):
    """Why a reviewer rejected a document (stable codes)."""

    SHOWS_RESIDENT_NUMBER = "shows_resident_number"
    """The back digits of the 주민등록번호 are visible: we have no legal basis to hold them."""
    UNREADABLE = "unreadable"
    """Blurred, cropped or too dark to read."""
    NAME_MISMATCH = "name_mismatch"
    """The name is not the seller's verified legal name."""
    BIRTH_DATE_MISMATCH = "birth_date_mismatch"
    """The birth date is not the seller's verified one."""
    EXPIRED = "expired"
    """The document is no longer valid."""
    NOT_AN_ID = "not_an_id"
    """The file is not an identity document."""


SNIFFED_TYPES = ("image/jpeg", "image/png", "application/pdf")


def sniff(head: bytes) -> str | None:
    """The content type the bytes start like (JPEG, PNG or PDF), or None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


@dataclass(frozen=True)
class IdentityDocument:
    """One uploaded document and its decision (the row; the image is a file elsewhere)."""

    id: str
    user_id: str
    kind: DocumentKind
    content_type: str
    size_bytes: int
    sha256: str
    file_name: str | None
    status: DocumentStatus
    reason: RejectReason | None
    note: str | None
    uploaded_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    file_deleted_at: datetime | None

    def purge_due(self, now: datetime, retention_days: int) -> bool:
        """True when the file is still kept but its retention after the decision has run out."""
        return (
            self.file_name is not None
            and self.decided_at is not None
            and self.decided_at + timedelta(days=retention_days) <= now
        )
