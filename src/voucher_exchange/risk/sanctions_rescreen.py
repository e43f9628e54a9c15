"""Re-screening stored customers after a list load: new matches, cleared entries that changed, freezes.

Every verified customer's legal name and verified payout-account holder names are screened
again against the new list, with their identifiers and clearances. A customer whose result
changed is updated; a new strong hit freezes the customer's payouts (`payouts_frozen`) until a
reviewer releases them. A clearance of an entry the new list changed no longer applies (it was
for the old version), so such a customer comes back as a match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, select

from voucher_exchange.db.schema import (
    payout_destinations,
    sanctions_clearances,
    sanctions_freezes,
    sanctions_lists,
    sanctions_screenings,
    users,
)
from voucher_exchange.risk import sanctions_cache, sanctions_customers, sanctions_standing
from voucher_exchange.risk.sanctions import SanctionsMatch, SanctionsScreen, Strength
from voucher_exchange.risk.sanctions_identifiers import PersonFacts
from voucher_exchange.risk.sanctions_standing import Subject


@dataclass(frozen=True)
class Change:
    """One customer whose screening result changed."""

    user_id: str
    email: str
    before: str
    after: str
    listed_name: str | None
    ent_num: int | None


@dataclass(frozen=True)
class RescreenSummary:
    """What a re-screen did."""

    customers: int
    changes: list[Change] = field(default_factory=list)
    frozen: int = 0

    def count(self, after: str) -> int:
        """Changed customers whose new strength is `after`."""
        return sum(1 for change in self.changes if change.after == after)


def screen_if_stale(conn: Connection, user_id: str, now: datetime) -> bool:
    """Consult the current list for one customer: screen again if a newer list was loaded since
    their last screening (a strong hit freezes their payouts). True when their payouts are frozen.

    One round trip when nothing is stale: the newest list, the customer's last list and an
    unreleased freeze are asked in one statement.
    """
    return frozen_given(conn, user_id, conn.execute(_STANDING, {"user_id": user_id}).one(), now)


def frozen_given(conn: Connection, user_id: str, standing: Any, now: datetime) -> bool:
    """`screen_if_stale` with the customer's standing already read (`STANDING`'s columns, read by
    the caller in a statement of its own): screens again only if a newer list was loaded."""
    newest, screened = standing.sanctions_newest, standing.sanctions_screened
    if newest is None or screened == newest:
        return bool(standing.sanctions_frozen)
    rescreen(conn, sanctions_cache.for_database(conn).current(conn, newest), now, user_id=user_id)
    return sanctions_customers.payouts_frozen(conn, user_id)


# The customer's standing (bound to `user_id`): the newest list, the list they were last
# screened against and an unreleased freeze, as columns a caller may add to its own SELECT.
STANDING = (
    select(func.max(sanctions_lists.c.id)).scalar_subquery().label("sanctions_newest"),
    select(sanctions_screenings.c.list_id)
    .where(sanctions_standing.joined(Subject.CUSTOMER, bindparam("user_id")))
    .scalar_subquery()
    .label("sanctions_screened"),
    exists()
    .where((sanctions_freezes.c.user_id == bindparam("user_id")) & sanctions_freezes.c.released_at.is_(None))
    .label("sanctions_frozen"),
)
_STANDING = select(*STANDING)


def verified_customers(conn: Connection) -> int:
    """How many customers a re-screen will look at."""
    rows = conn.execute(select(users.c.id).where(users.c.identity_status == "verified"))
    return len(rows.all())


def rescreen(
    conn: Connection,
    screen: SanctionsScreen,
    now: datetime,
    advance: Callable[[int], None] = lambda _: None,
    user_id: str | None = None,
) -> RescreenSummary:
    """Screen every verified customer (or only `user_id`) again, in the caller's transaction.

    `advance(n)` reports progress. Each customer screened records the list it ran against.
    """
    u = users.c
    st = sanctions_screenings.c
    only = (u.identity_status == "verified") if user_id is None else (u.id == user_id)
    customers = conn.execute(
        select(
            u.id,
            u.email,
            u.legal_name,
            u.birth_date,
            u.nationality,
            func.coalesce(st.strength, "none").label("sanctions_strength"),
            st.match.label("sanctions_match"),
        )
        .select_from(users.outerjoin(sanctions_screenings, sanctions_standing.joined(Subject.CUSTOMER, u.id)))
        .where(only)
        .order_by(u.id)
    ).all()
    cleared = _clearances(conn, user_id)
    holders = _holders(conn, user_id)
    memo: dict[tuple[str, PersonFacts, frozenset[tuple[int, str]]], SanctionsMatch] = {}

    def screened(name: str, person: PersonFacts, user_cleared: frozenset[tuple[int, str]]) -> SanctionsMatch:
        key = (name, person, user_cleared)
        if key not in memo:
            memo[key] = screen.screen(name, person, user_cleared)
        return memo[key]

    changes: list[Change] = []
    frozen = 0
    for done, row in enumerate(customers, 1):
        person = PersonFacts(row.birth_date, row.nationality)
        user_cleared = cleared.get(row.id, frozenset())
        match = screened(row.legal_name or "", person, user_cleared)
        if _differs(row.sanctions_strength, row.sanctions_match, match):
            sanctions_standing.record(
                conn,
                Subject.CUSTOMER,
                row.id,
                row.id,
                match.strength.value,
                match.as_evidence(),
                screen.list_id,
            )
        else:
            sanctions_standing.mark_screened(conn, row.id, screen.list_id)
        if row.sanctions_strength != match.strength.value:
            changes.append(
                Change(
                    row.id,
                    row.email,
                    row.sanctions_strength,
                    match.strength.value,
                    match.listed_name,
                    match.ent_num,
                )
            )
        strongest = match
        for dest_id, holder, strength, stored in holders.get(row.id, []):
            held = screened(holder, person, user_cleared)
            if _differs(strength, stored, held):
                sanctions_standing.record(
                    conn,
                    Subject.DESTINATION,
                    dest_id,
                    row.id,
                    held.strength.value,
                    held.as_evidence(),
                    screen.list_id,
                )
            if held.strength is Strength.STRONG:
                strongest = held
        if strongest.strength is Strength.STRONG and screen.list_id is not None:
            frozen += sanctions_customers.freeze_payouts(
                conn, row.id, screen.list_id, strongest.ent_num, strongest.as_evidence(), now
            )
        if done % 100 == 0 or done == len(customers):
            advance(100 if done % 100 == 0 else done % 100)
    return RescreenSummary(len(customers), changes, frozen)


def _differs(strength: str, stored: dict[str, Any] | None, match: SanctionsMatch) -> bool:
    """A new strength, or the same strength for another entry or entry version."""
    stored = stored or {}
    return (
        strength != match.strength.value
        or stored.get("ent_num") != match.ent_num
        or stored.get("entry_version") != match.entry_version
    )


def _clearances(conn: Connection, user_id: str | None) -> dict[str, frozenset[tuple[int, str]]]:
    c = sanctions_clearances.c
    found: dict[str, set[tuple[int, str]]] = {}
    query = select(c.user_id, c.ent_num, c.entry_version)
    if user_id is not None:
        query = query.where(c.user_id == user_id)
    for row in conn.execute(query):
        found.setdefault(row.user_id, set()).add((row.ent_num, row.entry_version))
    return {user_id: frozenset(pairs) for user_id, pairs in found.items()}


def _holders(
    conn: Connection, user_id: str | None
) -> dict[str, list[tuple[str, str, str, dict[str, Any] | None]]]:
    p = payout_destinations.c
    st = sanctions_screenings.c
    found: dict[str, list[tuple[str, str, str, dict[str, Any] | None]]] = {}
    query = (
        select(p.id, p.user_id, p.holder_name, func.coalesce(st.strength, "none").label("strength"), st.match)
        .select_from(
            payout_destinations.outerjoin(
                sanctions_screenings, sanctions_standing.joined(Subject.DESTINATION, p.id)
            )
        )
        .where(p.status == "verified")
        .order_by(p.id)
    )
    if user_id is not None:
        query = query.where(p.user_id == user_id)
    rows = conn.execute(query)
    for row in rows:
        found.setdefault(row.user_id, []).append((row.id, row.holder_name, row.strength, row.match))
    return found
