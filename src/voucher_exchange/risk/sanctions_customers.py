"""Sanctions screening of our customers: their identifiers, reviewers' clearances, payout freezes.

A clearance is a reviewer's "not the listed person" for one customer and one *version* of one
listed entry: the screen skips that entry for that customer until a list load changes the entry.
A freeze holds a customer's payouts after a re-screen found a strong match; a reviewer releases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from voucher_exchange.audit import service as audit
from voucher_exchange.db.schema import sanctions_clearances, sanctions_freezes, users
from voucher_exchange.risk import sanctions_cache
from voucher_exchange.risk.sanctions import SanctionsMatch
from voucher_exchange.risk.sanctions_identifiers import PersonFacts
from voucher_exchange.risk.sanctions_standing import Subject
from voucher_exchange.risk.sanctions_standing import clear as clear_standing
from voucher_exchange.risk.sanctions_standing import of as standing_of
from voucher_exchange.risk.sanctions_standing import record as record_standing

# The close reason a reviewer picks to say the customer is not the listed person.
NOT_LISTED_PERSON = "not_listed_person"


def facts_of(conn: Connection, user_id: str) -> PersonFacts:
    """The customer's verified birth date and recorded nationality."""
    row = conn.execute(select(users.c.birth_date, users.c.nationality).where(users.c.id == user_id)).first()
    if row is None:
        return PersonFacts()
    return PersonFacts(row.birth_date, row.nationality)


@dataclass(frozen=True)
class Screening:
    """One name screened against the newest loaded list."""

    match: SanctionsMatch
    list_id: int | None


def screen_customer(conn: Connection, user_id: str, legal_name: str, person: PersonFacts) -> Screening:
    """Screen a customer's legal name (with their identifiers and clearances) and store the standing."""
    screen = sanctions_cache.for_database(conn).current(conn)
    match = screen.screen(legal_name, person, cleared_for(conn, user_id))
    evidence = match.as_evidence()
    record_standing(conn, Subject.CUSTOMER, user_id, user_id, match.strength.value, evidence, screen.list_id)
    return Screening(match, screen.list_id)


def screen_holder(conn: Connection, user_id: str, holder_name: str) -> Screening:
    """Screen a payout account's holder name as the customer's (their identifiers weigh in)."""
    screen = sanctions_cache.for_database(conn).current(conn)
    match = screen.screen(holder_name, facts_of(conn, user_id), cleared_for(conn, user_id))
    return Screening(match, screen.list_id)


def record_holder(conn: Connection, destination_id: str, user_id: str, screening: Screening) -> None:
    """Store the standing of a payout account once it exists."""
    match = screening.match
    record_standing(
        conn,
        Subject.DESTINATION,
        destination_id,
        user_id,
        match.strength.value,
        match.as_evidence(),
        screening.list_id,
    )


def cleared_for(conn: Connection, user_id: str) -> frozenset[tuple[int, str]]:
    """(ent_num, entry_version) pairs a reviewer cleared for this customer."""
    c = sanctions_clearances.c
    rows = conn.execute(select(c.ent_num, c.entry_version).where(c.user_id == user_id))
    return frozenset((r.ent_num, r.entry_version) for r in rows)


@dataclass(frozen=True)
class Clearance:
    """One recorded "not the listed person"."""

    ent_num: int
    entry_version: str
    listed_name: str
    cleared_by: str
    note: str
    trade_id: str | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        """For the reviewer's evidence."""
        return {
            "ent_num": self.ent_num,
            "entry_version": self.entry_version,
            "listed_name": self.listed_name,
            "cleared_by": self.cleared_by,
            "note": self.note,
            "trade_id": self.trade_id,
            "at": self.created_at.isoformat(),
        }


def clearances_of(conn: Connection, user_id: str) -> list[Clearance]:
    """Every clearance recorded for the customer, oldest first."""
    c = sanctions_clearances.c
    rows = conn.execute(
        select(c.ent_num, c.entry_version, c.listed_name, c.cleared_by, c.note, c.trade_id, c.created_at)
        .where(c.user_id == user_id)
        .order_by(c.id)
    )
    return [Clearance(*row) for row in rows]


def _matches_of(conn: Connection, user_id: str, destination_id: str | None) -> list[dict[str, Any]]:
    """The stored screening results that held this customer: legal name and payout account holder."""
    found = [standing_of(conn, Subject.CUSTOMER, user_id).match]
    if destination_id is not None:
        found.append(standing_of(conn, Subject.DESTINATION, destination_id).match)
    return [m for m in found if m and m.get("strength") == "weak" and m.get("ent_num") is not None]


def clear_after_review(
    conn: Connection,
    user_id: str,
    destination_id: str | None,
    trade_id: str | None,
    reviewer: str,
    note: str,
    now: datetime,
) -> list[int]:
    """Record "not the listed person" for every entry that held this customer; their matches drop to none.

    Returns the cleared entry numbers (audited one by one).
    """
    cleared: list[int] = []
    done = cleared_for(conn, user_id)
    for match in _matches_of(conn, user_id, destination_id):
        key = _entry_of(match)
        if key not in done:
            conn.execute(
                insert(sanctions_clearances).values(
                    user_id=user_id,
                    ent_num=key[0],
                    entry_version=key[1],
                    listed_name=str(match.get("listed_name") or "")[:400],
                    trade_id=trade_id,
                    cleared_by=reviewer,
                    note=note,
                    created_at=now,
                )
            )
            audit.record(
                conn,
                reviewer,
                "sanctions.clear",
                user_id,
                {
                    "ent_num": key[0],
                    "entry_version": key[1],
                    "trade_id": trade_id,
                    "note": note,
                    "before": {"cleared": False},
                    "after": {"cleared": True},
                },
                now,
            )
            done = done | {key}
        cleared.append(key[0])
    if cleared:
        _drop_cleared(conn, user_id, destination_id, done)
    return cleared


def _drop_cleared(
    conn: Connection, user_id: str, destination_id: str | None, done: frozenset[tuple[int, str]]
) -> None:
    """A stored weak match on a cleared entry no longer counts (its evidence stays, marked cleared)."""
    targets = [(Subject.CUSTOMER, user_id)]
    if destination_id is not None:
        targets.append((Subject.DESTINATION, destination_id))
    for subject, subject_id in targets:
        match = standing_of(conn, subject, subject_id).match
        if match is None or _entry_of(match) not in done:
            continue
        match["cleared_by_review"] = True
        clear_standing(conn, subject, subject_id, match)


def reviewer_view(conn: Connection, user_id: str, destination_id: str | None) -> dict[str, Any]:
    """The screening a reviewer sees: each match with listed and customer identifiers, clearances, freeze."""
    holder = standing_of(conn, Subject.DESTINATION, destination_id).match if destination_id else None
    return {
        "legal_name": standing_of(conn, Subject.CUSTOMER, user_id).match,
        "account_holder": holder,
        "clearances": [c.as_json() for c in clearances_of(conn, user_id)],
        "payouts_frozen": payouts_frozen(conn, user_id),
    }


def _entry_of(match: dict[str, Any]) -> tuple[int, str]:
    return int(match.get("ent_num") or 0), str(match.get("entry_version") or "")


# ---------------------------------------------------------------------------- freezes


def payouts_frozen(conn: Connection, user_id: str) -> bool:
    """Whether a re-screen froze this customer's payouts (a reviewer has not released them yet)."""
    f = sanctions_freezes.c
    return (
        conn.execute(select(f.id).where((f.user_id == user_id) & f.released_at.is_(None)).limit(1)).first()
        is not None
    )


def freeze_payouts(
    conn: Connection, user_id: str, list_id: int, ent_num: int | None, match: dict[str, Any], now: datetime
) -> bool:
    """Freeze the customer's payouts after a strong re-screen hit; False if already frozen."""
    if payouts_frozen(conn, user_id):
        return False
    conn.execute(
        insert(sanctions_freezes).values(
            user_id=user_id, list_id=list_id, ent_num=ent_num, match=match, created_at=now
        )
    )
    details = {"ent_num": ent_num, "list_id": list_id}
    audit.record(conn, "sanctions-rescreen", "sanctions.freeze", user_id, details, now)
    return True


@dataclass(frozen=True)
class Freeze:
    """An open payout freeze, for the reviewer's list."""

    email: str
    legal_name: str | None
    ent_num: int | None
    listed_name: str | None
    created_at: datetime


def open_freezes(conn: Connection) -> list[Freeze]:
    """Customers whose payouts a re-screen froze, oldest first."""
    f = sanctions_freezes.c
    rows = conn.execute(
        select(users.c.email, users.c.legal_name, f.ent_num, f.match, f.created_at)
        .join(users, users.c.id == f.user_id)
        .where(f.released_at.is_(None))
        .order_by(f.id)
    )
    return [
        Freeze(r.email, r.legal_name, r.ent_num, (r.match or {}).get("listed_name"), r.created_at)
        for r in rows
    ]


def release_freeze(conn: Connection, user_id: str, reviewer: str, now: datetime) -> bool:
    """A reviewer releases the customer's payouts; False when nothing was frozen."""
    f = sanctions_freezes.c
    released = conn.execute(
        update(sanctions_freezes)
        .where((f.user_id == user_id) & f.released_at.is_(None))
        .values(released_at=now, released_by=reviewer)
    ).rowcount
    if released:
        audit.record_change(
            conn, reviewer, "sanctions.release", user_id, {"frozen": True}, {"frozen": False}, now
        )
    return bool(released)
