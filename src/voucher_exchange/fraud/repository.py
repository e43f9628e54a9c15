"""Fraud SQL: `fraud_reports`, `fraud_report_codes`, `fraud_cases`, `fraud_matches`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import fraud_cases, fraud_matches, fraud_report_codes, fraud_reports
from voucher_exchange.fraud.models import Action, Case, Match, Outcome
from voucher_exchange.money import Money

r = fraud_reports.c
k = fraud_report_codes.c
c = fraud_cases.c
m = fraud_matches.c


def add_report(conn: Connection, values: dict[str, Any]) -> None:
    """Store a report (the caller computed its id and encrypted its reporter)."""
    conn.execute(insert(fraud_reports).values(**values))


def add_codes(conn: Connection, report_id: str, rows: list[tuple[int, str, str, str]]) -> None:
    """Store a report's codes as (position, brand, keyed fingerprint, masked form): never the code."""
    conn.execute(
        insert(fraud_report_codes),
        [
            {"report_id": report_id, "position": p, "brand_slug": b, "fingerprint": fp, "masked": masked}
            for p, b, fp, masked in rows
        ],
    )


def report(conn: Connection, report_id: str) -> Any:
    """One report's row, or None."""
    return conn.execute(select(fraud_reports).where(r.id == report_id)).first()


def fingerprints(conn: Connection, report_id: str) -> dict[str, str]:
    """A report's fingerprints, each with the masked code it came from."""
    rows = conn.execute(select(k.fingerprint, k.masked).where(k.report_id == report_id))
    return {row.fingerprint: row.masked for row in rows}


def mark_matched(conn: Connection, report_id: str, count: int, now: datetime) -> bool:
    """The report was matched (once); False if another worker did it first."""
    done = conn.execute(
        update(fraud_reports)
        .where((r.id == report_id) & r.matched_at.is_(None))
        .values(matched_at=now, match_count=count)
    )
    return bool(done.rowcount)


def _case(row: Any) -> Case:
    return Case(
        row.id, row.report_id, row.status, row.received_at, row.opened_at, row.frozen_at, row.closed_at,
        row.closed_by,
    )  # fmt: skip


def open_case(conn: Connection, case_id: str, report_id: str, received_at: datetime, now: datetime) -> None:
    """Open the report's case (one per report)."""
    insert_ignore(
        conn,
        fraud_cases,
        {
            "id": case_id,
            "report_id": report_id,
            "status": "open",
            "received_at": received_at,
            "opened_at": now,
        },
        ["report_id"],
    )


def set_frozen(conn: Connection, case_id: str, now: datetime) -> None:
    """The first hold or freeze of the case: the report-to-freeze time ends here."""
    conn.execute(update(fraud_cases).where((c.id == case_id) & c.frozen_at.is_(None)).values(frozen_at=now))


def close_case(conn: Connection, case_id: str, actor: str, now: datetime) -> bool:
    """`open → closed`; False if it was closed already."""
    done = conn.execute(
        update(fraud_cases)
        .where((c.id == case_id) & (c.status == "open"))
        .values(status="closed", closed_at=now, closed_by=actor)
    )
    return bool(done.rowcount)


def case(conn: Connection, case_id: str) -> Case | None:
    """One case."""
    row = conn.execute(select(fraud_cases).where(c.id == case_id)).first()
    return None if row is None else _case(row)


def cases(conn: Connection, limit: int = 200) -> list[Case]:
    """Cases, open ones first, newest first."""
    rows = conn.execute(
        select(fraud_cases).order_by((c.status == "open").desc(), c.received_at.desc()).limit(limit)
    )
    return [_case(row) for row in rows]


def add_match(conn: Connection, values: dict[str, Any]) -> int | None:
    """Record a matched trade on a case (once per case and trade); its id, or None if recorded before."""
    if not insert_ignore(conn, fraud_matches, values, ["case_id", "trade_id"]):
        return None
    found: int = conn.execute(
        select(m.id).where((m.case_id == values["case_id"]) & (m.trade_id == values["trade_id"]))
    ).scalar_one()
    return found


CHARGE_BACK_ASKED = "charge_back_asked"
"""A staff member's charge-back request is with the issuer (its answer replaces this)."""


def claim_charge_back(conn: Connection, match_id: int) -> bool:
    """Mark the issuer asked to charge the match's voucher back; False while another request is
    with it (two clicks or two staff members at once ask the issuer once)."""
    done = conn.execute(
        update(fraud_matches)
        .where((m.id == match_id) & m.issuer_block.is_distinct_from(CHARGE_BACK_ASKED))
        .values(issuer_block=CHARGE_BACK_ASKED)
    )
    return done.rowcount == 1


def set_issuer_block(conn: Connection, match_id: int, state: str) -> None:
    """What the issuer said when asked to block the code."""
    conn.execute(update(fraud_matches).where(m.id == match_id).values(issuer_block=state))


def set_outcome(conn: Connection, match_id: int, outcome: Outcome, actor: str, now: datetime) -> None:
    """What staff did with a match."""
    conn.execute(
        update(fraud_matches)
        .where(m.id == match_id)
        .values(outcome=outcome.value, outcome_by=actor, outcome_at=now)
    )


def _match(row: Any) -> Match:
    return Match(
        id=int(row.id),
        case_id=row.case_id,
        trade_id=row.trade_id,
        user_id=row.user_id,
        masked=row.masked,
        status_at_match=row.status_at_match,
        action=Action(row.action),
        amount=Money(int(row.amount), row.currency),
        matched_at=row.matched_at,
        issuer_block=row.issuer_block,
        outcome=Outcome(row.outcome) if row.outcome else None,
        outcome_at=row.outcome_at,
        outcome_by=row.outcome_by,
    )


def matches(conn: Connection, case_id: str) -> list[Match]:
    """A case's matched trades, in the order they were matched."""
    rows = conn.execute(select(fraud_matches).where(m.case_id == case_id).order_by(m.id))
    return [_match(row) for row in rows]


def match(conn: Connection, case_id: str, trade_id: str) -> Match | None:
    """One matched trade of a case."""
    row = conn.execute(select(fraud_matches).where((m.case_id == case_id) & (m.trade_id == trade_id))).first()
    return None if row is None else _match(row)


def count_reports(conn: Connection, start: datetime, end: datetime) -> int:
    """Reports received in [start, end)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(fraud_reports)
            .where((r.received_at >= start) & (r.received_at < end))
        ).scalar_one()
    )


def freeze_spans(conn: Connection, start: datetime, end: datetime) -> list[float]:
    """Seconds from report to first hold or freeze, for cases whose report arrived in [start, end)."""
    rows = conn.execute(
        select(c.received_at, c.frozen_at).where(
            (c.received_at >= start) & (c.received_at < end) & c.frozen_at.is_not(None)
        )
    )
    return [(row.frozen_at - row.received_at).total_seconds() for row in rows]
