"""Risk's sanctions standing: the latest screening of each customer and each payout account.

One table, `sanctions_screenings`, that only risk writes: a customer's legal name (subject
`customer`) or a payout account holder's name (`destination`), with the strength, the match as
evidence and the list the screening ran against. No row means never screened (strength none).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.sql.elements import ColumnElement

from voucher_exchange.db.dialect import upsert
from voucher_exchange.db.schema import sanctions_screenings

s = sanctions_screenings.c


class Subject(StrEnum):
    """Whose name was screened."""

    CUSTOMER = "customer"
    """The customer's verified legal name (subject_id is the user's id)."""
    DESTINATION = "destination"
    """A payout account's holder name (subject_id is the destination's id)."""


@dataclass(frozen=True)
class Standing:
    """One stored screening."""

    strength: str  # none | weak | strong
    match: dict[str, Any] | None
    list_id: int | None


NEVER_SCREENED = Standing("none", None, None)


def record(
    conn: Connection,
    subject: Subject,
    subject_id: str,
    user_id: str,
    strength: str,
    match: dict[str, Any] | None,
    list_id: int | None,
) -> None:
    """Store the latest screening of one name (replacing the one before)."""
    values = {
        "subject": subject.value,
        "subject_id": subject_id,
        "user_id": user_id,
        "strength": strength,
        "match": match,
        "list_id": list_id,
    }
    upsert(conn, sanctions_screenings, values, ["subject", "subject_id"])


def mark_screened(conn: Connection, user_id: str, list_id: int | None) -> None:
    """The customer was screened against `list_id` and nothing about the result changed."""
    found = conn.execute(
        update(sanctions_screenings).where(_is(Subject.CUSTOMER, user_id)).values(list_id=list_id)
    ).rowcount
    if not found:
        record(conn, Subject.CUSTOMER, user_id, user_id, "none", None, list_id)


def clear(conn: Connection, subject: Subject, subject_id: str, match: dict[str, Any]) -> None:
    """A reviewer cleared the stored match: it no longer counts (its evidence stays, marked)."""
    conn.execute(
        update(sanctions_screenings).where(_is(subject, subject_id)).values(strength="none", match=match)
    )


def of(conn: Connection, subject: Subject, subject_id: str) -> Standing:
    """The stored screening of one name (never screened: strength none)."""
    row = conn.execute(select(s.strength, s.match, s.list_id).where(_is(subject, subject_id))).first()
    if row is None:
        return NEVER_SCREENED
    return Standing(row.strength, dict(row.match) if row.match else None, row.list_id)


def joined(subject: Subject, subject_id: Any) -> ColumnElement[bool]:
    """The ON clause that joins the screening of `subject_id` (a column) for an outer join."""
    return and_(s.subject == subject.value, s.subject_id == subject_id)


def _is(subject: Subject, subject_id: str) -> ColumnElement[bool]:
    return (s.subject == subject.value) & (s.subject_id == subject_id)
