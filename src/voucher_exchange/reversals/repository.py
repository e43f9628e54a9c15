"""Chargeback SQL: the `voucher_chargebacks` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import voucher_chargebacks
from voucher_exchange.money import Money
from voucher_exchange.ports.issuer import Chargeback as Reported
from voucher_exchange.reversals.models import AppealOutcome, Chargeback, ChargebackOutcome

c = voucher_chargebacks.c


def _chargeback(row: Any) -> Chargeback:
    return Chargeback(
        id=int(row.id),
        issuer_seq=int(row.issuer_seq),
        reference=row.reference,
        amount=Money(int(row.amount), row.currency),
        reason=row.reason,
        reported_at=row.reported_at,
        received_at=row.received_at,
        outcome=ChargebackOutcome(row.outcome),
        receivable=Money(int(row.receivable), row.currency),
        appeal_note=row.appeal_note,
        appealed_at=row.appealed_at,
        appeal_outcome=AppealOutcome(row.appeal_outcome) if row.appeal_outcome else None,
        processed_at=row.processed_at,
    )


def last_seq(conn: Connection) -> int:
    """The issuer's sequence number of the newest report we keep (0 before the first)."""
    return int(conn.execute(select(func.coalesce(func.max(c.issuer_seq), 0))).scalar_one())


def add(conn: Connection, report: Reported, now: datetime) -> bool:
    """Keep a report once (by the issuer's sequence); False if it was kept before."""
    return insert_ignore(
        conn,
        voucher_chargebacks,
        {
            "issuer_seq": report.id,
            "reference": report.reference,
            "amount": report.amount,
            "currency": report.currency,
            "reason": report.reason,
            "reported_at": report.reported_at,
            "received_at": now,
            "outcome": ChargebackOutcome.PENDING.value,
        },
        ["issuer_seq"],
    )


def pending(conn: Connection, limit: int = 500) -> list[Chargeback]:
    """Reports not applied yet, oldest first."""
    rows = conn.execute(
        select(voucher_chargebacks)
        .where(c.outcome == ChargebackOutcome.PENDING.value)
        .order_by(c.issuer_seq)
        .limit(limit)
    )
    return [_chargeback(r) for r in rows]


def settle(
    conn: Connection, chargeback_id: int, outcome: ChargebackOutcome, receivable: int, now: datetime
) -> bool:
    """`pending → outcome`; False if another process applied it first."""
    result = conn.execute(
        update(voucher_chargebacks)
        .where((c.id == chargeback_id) & (c.outcome == ChargebackOutcome.PENDING.value))
        .values(outcome=outcome.value, receivable=receivable, processed_at=now)
    )
    return bool(result.rowcount)


def applied_for(conn: Connection, reference: str) -> Chargeback | None:
    """The report that reversed a trade (reversed or loss), if any."""
    row = conn.execute(
        select(voucher_chargebacks)
        .where(
            (c.reference == reference)
            & c.outcome.in_([ChargebackOutcome.REVERSED.value, ChargebackOutcome.LOSS.value])
        )
        .order_by(c.id)
        .limit(1)
    ).first()
    return None if row is None else _chargeback(row)


def record_appeal(conn: Connection, chargeback_id: int, note: str, now: datetime) -> bool:
    """Store the seller's one appeal; False if there was one already."""
    result = conn.execute(
        update(voucher_chargebacks)
        .where((c.id == chargeback_id) & c.appealed_at.is_(None))
        .values(appeal_note=note, appealed_at=now)
    )
    return bool(result.rowcount)


def decide_appeal(
    conn: Connection, chargeback_id: int, outcome: AppealOutcome, reviewer: str, now: datetime
) -> bool:
    """Record the reviewer's answer once; False if the appeal was decided already."""
    result = conn.execute(
        update(voucher_chargebacks)
        .where((c.id == chargeback_id) & c.appealed_at.is_not(None) & c.appeal_outcome.is_(None))
        .values(appeal_outcome=outcome.value, appeal_decided_by=reviewer, appeal_decided_at=now)
    )
    return bool(result.rowcount)


def open_appeals(conn: Connection, limit: int = 200) -> list[Chargeback]:
    """Appeals waiting for a reviewer, oldest first."""
    rows = conn.execute(
        select(voucher_chargebacks)
        .where(c.appealed_at.is_not(None) & c.appeal_outcome.is_(None))
        .order_by(c.appealed_at)
        .limit(limit)
    )
    return [_chargeback(r) for r in rows]
