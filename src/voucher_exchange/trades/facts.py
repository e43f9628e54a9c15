"""The outside facts a trade's refusal or reversal rests on: one door, `record_fact`.

Each fact keeps what was asked and when, the SHA-256 of the answer exactly as received (the
bytes themselves are not kept: an issuer's answer may name the code), the details worth
showing the seller (the issuer's time of use and reference), and the fact's position in the
trade's event hash chain when it was recorded (the number of events, and the newest event's
hash), so the evidence record ties each fact to the history `audit verify` checks.

Any capability can add a fact in its own transaction (a fraud report matching a code, an
issuer's block): `record_fact(conn, trade_id, source, what, answer, details, at)`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from voucher_exchange.db.schema import trade_events, trade_facts, trades


def utc_iso(at: datetime) -> str:
    """`2026-12-01T05:03:00Z`: an instant in UTC, as receipts and evidence records write it."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Fact:
    """One outside fact as stored."""

    at: datetime
    source: str
    what: str
    answer_sha256: str | None
    details: dict[str, Any]
    event_index: int | None
    event_hash: str | None


def record_fact(
    conn: Connection,
    trade_id: str,
    source: str,
    what: str,
    answer: bytes | None,
    details: Mapping[str, Any],
    at: datetime,
) -> Fact:
    """Keep one outside fact about a trade, in the caller's transaction.

    `source` says who told us (`issuer`, `fraud_report`, …), `what` what it was
    (`issuer.lookup`, `issuer.redeem`, `issuer.chargeback`, …), `answer` the bytes as received
    (only their SHA-256 is kept; None when there is no document), `details` plain JSON values
    (never a code, PIN or another seller's identity), `at` when the fact was received.
    """
    digest = hashlib.sha256(answer).hexdigest() if answer is not None else None
    count, head = _chain_position(conn, trade_id)
    fact = Fact(at, source[:40], what[:60], digest, dict(details), count, head)
    conn.execute(
        insert(trade_facts).values(
            trade_id=trade_id,
            at=at,
            source=fact.source,
            what=fact.what,
            answer_sha256=digest,
            details=fact.details,
            event_index=count,
            event_hash=head,
        )
    )
    return fact


def _chain_position(conn: Connection, trade_id: str) -> tuple[int, str | None]:
    e = trade_events.c
    count = conn.execute(select(func.count()).where(e.trade_id == trade_id)).scalar_one()
    head = conn.execute(select(e.hash).where(e.trade_id == trade_id).order_by(e.id.desc()).limit(1)).scalar()
    return int(count), head


def facts_of(conn: Connection, trade_id: str) -> list[Fact]:
    """The trade's outside facts, oldest first."""
    f = trade_facts.c
    rows = conn.execute(select(trade_facts).where(f.trade_id == trade_id).order_by(f.id))
    return [
        Fact(r.at, r.source, r.what, r.answer_sha256, dict(r.details or {}), r.event_index, r.event_hash)
        for r in rows
    ]


def first_seen_at(conn: Connection, trade_id: str) -> datetime | None:
    """When the exchange first saw this trade's voucher (any seller, by its keyed fingerprint).

    Only the instant: never which trade or seller it was.
    """
    fingerprint = conn.execute(select(trades.c.voucher_fingerprint).where(trades.c.id == trade_id)).scalar()
    if fingerprint is None:
        return None
    # Ordered, not min(): the column's type then turns the value into an aware instant.
    first: datetime | None = conn.execute(
        select(trades.c.created_at)
        .where(trades.c.voucher_fingerprint == fingerprint)
        .order_by(trades.c.created_at)
        .limit(1)
    ).scalar()
    return first


def is_trade(conn: Connection, reference: str | None) -> bool:
    """Whether an issuer's redemption reference is one of this exchange's trades."""
    if not reference:
        return False
    return conn.execute(select(trades.c.id).where(trades.c.id == reference[:36])).first() is not None


def chain_head(conn: Connection, trade_id: str) -> str | None:
    """The hash of the trade's newest event: the head of its history chain."""
    return _chain_position(conn, trade_id)[1]
