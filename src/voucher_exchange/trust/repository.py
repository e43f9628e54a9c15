"""Trust SQL: the business profile row, consent documents and the consents users gave."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from voucher_exchange.db.schema import business_profile, consent_documents, user_consents
from voucher_exchange.trust.models import (
    PROFILE_FIELDS,
    Acceptance,
    BusinessProfile,
    ConsentDocument,
    ConsentKind,
)

PROFILE_ROW = 1


def profile(conn: Connection) -> BusinessProfile | None:
    """The saved profile, or None before the operator saved one."""
    row = conn.execute(select(business_profile).where(business_profile.c.id == PROFILE_ROW)).first()
    if row is None:
        return None
    return BusinessProfile.from_fields({name: str(getattr(row, name)) for name in PROFILE_FIELDS})


def save_profile(conn: Connection, new: BusinessProfile, now: datetime, actor: str) -> None:
    """Insert or replace the one profile row."""
    values = {**new.as_fields(), "updated_at": now, "updated_by": actor}
    changed = conn.execute(
        update(business_profile).where(business_profile.c.id == PROFILE_ROW).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(business_profile).values(id=PROFILE_ROW, **values))


def _document(row: Any) -> ConsentDocument:
    return ConsentDocument(
        kind=ConsentKind(row.kind),
        version=int(row.version),
        title=row.title,
        body=row.body,
        published_at=row.published_at,
        published_by=row.published_by,
        title_en=row.title_en,
        body_en=row.body_en,
        effective_at=row.effective_at,
    )


def latest_documents(conn: Connection, now: datetime) -> dict[ConsentKind, ConsentDocument]:
    """The version of each kind in force at `now` (the newest one whose effective moment has come)."""
    newest = (
        select(consent_documents.c.kind, func.max(consent_documents.c.version).label("version"))
        .where(consent_documents.c.effective_at <= now)
        .group_by(consent_documents.c.kind)
        .subquery()
    )
    rows = conn.execute(
        select(consent_documents).join(
            newest,
            (consent_documents.c.kind == newest.c.kind) & (consent_documents.c.version == newest.c.version),
        )
    )
    return {doc.kind: doc for doc in map(_document, rows)}


def history(conn: Connection, kind: ConsentKind) -> list[ConsentDocument]:
    """Every published version of one kind, newest first."""
    rows = conn.execute(
        select(consent_documents)
        .where(consent_documents.c.kind == kind.value)
        .order_by(consent_documents.c.version.desc())
    )
    return [_document(r) for r in rows]


def scheduled(conn: Connection, kind: ConsentKind, now: datetime) -> ConsentDocument | None:
    """The newest version of one kind not yet in force at `now`, if any."""
    row = conn.execute(
        select(consent_documents)
        .where(consent_documents.c.kind == kind.value, consent_documents.c.effective_at > now)
        .order_by(consent_documents.c.version.desc())
        .limit(1)
    ).first()
    return None if row is None else _document(row)


def version(conn: Connection, kind: ConsentKind, number: int) -> ConsentDocument | None:
    """One published version."""
    row = conn.execute(
        select(consent_documents).where(
            consent_documents.c.kind == kind.value, consent_documents.c.version == number
        )
    ).first()
    return None if row is None else _document(row)


def accepted_by(conn: Connection, kind: ConsentKind) -> list[str]:
    """The users who accepted some version of one kind (whom a new version concerns), in id order."""
    rows = conn.execute(
        select(user_consents.c.user_id)
        .where(user_consents.c.kind == kind.value)
        .distinct()
        .order_by(user_consents.c.user_id)
    )
    return [r.user_id for r in rows]


def add_document(conn: Connection, doc: ConsentDocument) -> None:
    """Store a new version (the primary key refuses a second writer of the same version)."""
    conn.execute(
        insert(consent_documents).values(
            kind=doc.kind.value,
            version=doc.version,
            title=doc.title,
            body=doc.body,
            title_en=doc.title_en,
            body_en=doc.body_en,
            published_at=doc.published_at,
            published_by=doc.published_by,
            effective_at=doc.effective_at,
        )
    )


def add_consents(conn: Connection, user_id: str, acceptance: Acceptance, now: datetime) -> None:
    """Record the versions a user accepted."""
    conn.execute(
        insert(user_consents),
        [
            {
                "user_id": user_id,
                "kind": kind.value,
                "version": version,
                "accepted_at": now,
                "channel": acceptance.channel,
            }
            for kind, version in acceptance.versions.items()
        ],
    )


def consents_of(conn: Connection, user_id: str) -> list[Any]:
    """A user's accepted consents, oldest first."""
    return list(
        conn.execute(
            select(user_consents)
            .where(user_consents.c.user_id == user_id)
            .order_by(user_consents.c.accepted_at, user_consents.c.kind)
        )
    )
