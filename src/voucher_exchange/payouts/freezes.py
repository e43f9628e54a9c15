"""Payout freezes: a hold on a seller's next payouts up to an amount (a fraud case's freeze).

A freeze is opened for what a reported trade paid out; each payout it catches is recorded as a
hold, so it never holds more than its amount (payouts after that go out as usual). A payout
already handed to the rail is never held: the rail may have executed it. Releasing the freeze
lets the held payouts go; if a reversal left the seller owing by then, they net against it first
(`trades/postings.py`, the same netting as after any reversal).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, exists, func, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import payout_freeze_holds, payout_freezes
from voucher_exchange.money import Money

FRAUD_FREEZE = "fraud_freeze"
"""Why a payout waits (the pipeline's `PayoutHeld` reason)."""

f = payout_freezes.c
h = payout_freeze_holds.c


@dataclass(frozen=True)
class Freeze:
    """One freeze as stored, with what it holds now."""

    id: str
    user_id: str
    reference: str
    amount: Money
    held: Money
    created_at: datetime
    released_at: datetime | None


def _freeze(conn: Connection, row: Any) -> Freeze:
    held = conn.execute(
        select(func.coalesce(func.sum(h.amount), 0)).where(h.freeze_id == row.id)
    ).scalar_one()
    return Freeze(
        row.id,
        row.user_id,
        row.reference,
        Money(int(row.amount), row.currency),
        Money(int(held), row.currency),
        row.created_at,
        row.released_at,
    )


def open_freeze(conn: Connection, user_id: str, reference: str, amount: Money, now: datetime) -> bool:
    """Freeze a seller's next payouts up to `amount`, once per reference; False if it existed."""
    return insert_ignore(
        conn,
        payout_freezes,
        {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "reference": reference,
            "amount": amount.amount,
            "currency": amount.currency,
            "created_at": now,
        },
        ["reference"],
    )


def by_reference(conn: Connection, reference: str) -> Freeze | None:
    """The freeze made for `reference`, if any."""
    row = conn.execute(select(payout_freezes).where(f.reference == reference)).first()
    return None if row is None else _freeze(conn, row)


# Whether the seller (bound to `user_id`) has an open freeze, in any currency: a column for a
# caller's own SELECT, so that `hold` is asked only then (it holds nothing otherwise).
ANY_OPEN = (
    exists().where((f.user_id == bindparam("user_id")) & f.released_at.is_(None)).label("payout_freeze_open")
)


def hold(conn: Connection, user_id: str, payout_reference: str, amount: Money, now: datetime) -> bool:
    """Whether this payout must wait for an open freeze of its seller (recording the hold).

    A payout held before stays held while its freeze is open; a new one is held while an open
    freeze holds less than its amount.
    """
    freezes = conn.execute(
        select(payout_freezes)
        .where((f.user_id == user_id) & f.released_at.is_(None) & (f.currency == amount.currency))
        .order_by(f.created_at, f.id)
    ).all()
    for row in freezes:
        held_here = conn.execute(
            select(h.amount).where((h.freeze_id == row.id) & (h.reference == payout_reference))
        ).first()
        if held_here is not None:
            return True
    for row in freezes:
        held = int(
            conn.execute(
                select(func.coalesce(func.sum(h.amount), 0)).where(h.freeze_id == row.id)
            ).scalar_one()
        )
        if held < int(row.amount):
            insert_ignore(
                conn,
                payout_freeze_holds,
                {
                    "freeze_id": row.id,
                    "reference": payout_reference,
                    "amount": min(amount.amount, int(row.amount) - held),
                    "held_at": now,
                },
                ["freeze_id", "reference"],
            )
            return True
    return False


def release(conn: Connection, reference: str, actor: str, now: datetime) -> str | None:
    """Release the freeze made for `reference`; the seller's id, or None if it was not open."""
    row = conn.execute(
        select(f.id, f.user_id).where((f.reference == reference) & f.released_at.is_(None))
    ).first()
    if row is None:
        return None
    done = conn.execute(
        update(payout_freezes)
        .where((f.id == row.id) & f.released_at.is_(None))
        .values(released_at=now, released_by=actor)
    )
    if not done.rowcount:
        return None
    # The payouts it held go now; a later re-freeze counts afresh.
    conn.execute(delete(payout_freeze_holds).where(h.freeze_id == row.id))
    return str(row.user_id)


def reopen(conn: Connection, reference: str, now: datetime) -> bool:
    """Freeze again what was released (staff held it after all); False if it is open already."""
    done = conn.execute(
        update(payout_freezes)
        .where((f.reference == reference) & f.released_at.is_not(None))
        .values(released_at=None, released_by=None, created_at=now)
    )
    return bool(done.rowcount)


def holds_of(conn: Connection, reference: str) -> list[tuple[str, Money, datetime]]:
    """The payouts a freeze caught: (payout reference, amount held, when)."""
    rows = conn.execute(
        select(h.reference, h.amount, f.currency, h.held_at)
        .join(payout_freezes, f.id == h.freeze_id)
        .where(f.reference == reference)
        .order_by(h.held_at)
    )
    return [(r.reference, Money(int(r.amount), r.currency), r.held_at) for r in rows]
