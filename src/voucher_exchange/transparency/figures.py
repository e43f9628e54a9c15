"""The report's figures read from the tables (read-only; fit for a replica).

Every figure is an SQL aggregate; percentiles take the nearest rank with ORDER BY … OFFSET,
so PostgreSQL and SQLite answer alike and no trade comes back as a row. Events count where
they happened: a trade paid in the period counts there, whenever it was submitted; a report's
time to freeze counts where the freeze happened. Nothing after the period's end is read, so a
complete period never changes.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Integer, case, cast, exists, func, select
from sqlalchemy.sql.expression import Subquery

from voucher_exchange.db.schema import (
    audit_log,
    decisions,
    fraud_cases,
    ledger_accounts,
    ledger_transfers,
    trade_events,
    trades,
)
from voucher_exchange.fraud import service as fraud_service
from voucher_exchange.issuers import views as issuer_views
from voucher_exchange.promises import service as promise_service
from voucher_exchange.transparency.models import (
    OTHER,
    AuditHead,
    Flow,
    FraudFigures,
    IssuerPause,
    Percentiles,
    Period,
    PromiseFigures,
    RawFigures,
    nearest_rank,
)

_e, _t = trade_events.c, trades.c


def raw_figures(conn: Connection, period: Period, currency: str, tz: str) -> RawFigures:
    """Every figure of the report for `period`, exact; dates in words are in `tz` (the deployment's)."""
    submitted, held = _submitted(conn, period, currency)
    paid, paid_seconds = _paid(conn, period, currency)
    return RawFigures(
        currency=currency,
        submitted=submitted,
        held=held,
        paid=paid,
        paid_seconds=paid_seconds,
        review_seconds=_reviews(conn, period, currency),
        refusals=_refusals(conn, period, currency),
        reversals=_moves(conn, period, currency, "paid", "reversed"),
        receivables=_ledger_flow(conn, period, currency, debit="seller_receivable"),
        recovered=_ledger_flow(conn, period, currency, debit="seller_payable", credit="seller_receivable"),
        written_off=_ledger_flow(conn, period, currency, debit="losses", credit="seller_receivable"),
        audit_head=audit_head(conn, period),
        promise=promise_figures(conn, period, currency),
        issuer_pauses=issuer_pauses(conn, period, tz),
        fraud=fraud_report_figures(conn, period),
    )


def _in(column: ColumnElement[Any], period: Period) -> ColumnElement[bool]:
    return (column >= period.start) & (column < period.end)


def _seconds(conn: Connection, later: Any, earlier: Any) -> ColumnElement[Any]:
    """`later − earlier` in seconds, in the database's own arithmetic."""
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"; julianday() would keep only milliseconds.
    whole = func.strftime("%s", later) - func.strftime("%s", earlier)
    micros = cast(func.substr(later, 21, 6), Integer) - cast(func.substr(earlier, 21, 6), Integer)
    return whole + micros / 1_000_000.0


def _percentiles(conn: Connection, durations: Subquery, *percents: int) -> Percentiles:
    """Nearest-rank percentiles of the subquery's `seconds` column (None where it is NULL is left out)."""
    column = durations.c.seconds
    count = int(
        conn.execute(select(func.count()).select_from(durations).where(column.is_not(None))).scalar_one()
    )
    values: list[float | None] = []
    for percent in percents:
        if count == 0:
            values.append(None)
            continue
        found = conn.execute(
            select(column)
            .where(column.is_not(None))
            .order_by(column)
            .offset(nearest_rank(count, percent) - 1)
            .limit(1)
        ).scalar_one()
        values.append(float(found))
    return Percentiles(count, *values)


def _move(period: Period, currency: str, before: str | None, after: str) -> ColumnElement[bool]:
    """An event of the period that moved a trade of `currency` into `after` (from `before`, when given)."""
    moved = (
        (_e.to_status == after) & (_e.from_status != after) & _in(_e.at, period) & (_t.currency == currency)
    )
    return moved & (_e.from_status == before) if before is not None else moved


def _moves(conn: Connection, period: Period, currency: str, before: str | None, after: str) -> int:
    query = (
        select(func.count())
        .select_from(trade_events.join(trades, _t.id == _e.trade_id))
        .where(_move(period, currency, before, after))
    )
    return int(conn.execute(query).scalar_one())


def _submitted(conn: Connection, period: Period, currency: str) -> tuple[int, int]:
    """Trades submitted in the period, and how many of them were held for review before its end."""
    was_held = exists().where((_e.trade_id == _t.id) & (_e.to_status == "in_review") & (_e.at < period.end))
    row = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((was_held, 1), else_=0)), 0))
        .select_from(trades)
        .where(_in(_t.created_at, period) & (_t.currency == currency))
    ).one()
    return int(row[0]), int(row[1])


def _paid(conn: Connection, period: Period, currency: str) -> tuple[Flow, Percentiles]:
    """Trades paid in the period: how many, their face value, and submission → paid in seconds."""
    paid = trade_events.join(trades, _t.id == _e.trade_id)
    where = _move(period, currency, None, "paid")
    count, total = conn.execute(
        select(func.count(), func.coalesce(func.sum(_t.face_value), 0)).select_from(paid).where(where)
    ).one()
    durations = (
        select(_seconds(conn, _e.at, _t.created_at).label("seconds"))
        .select_from(paid)
        .where(where)
        .subquery()
    )
    return Flow(int(count), int(total)), _percentiles(conn, durations, 50, 95)


def _reviews(conn: Connection, period: Period, currency: str) -> Percentiles:
    """Reviews that ended in the period (a decision or a withdrawal): held → left review, in seconds."""
    left, entered = trade_events.alias("left_review"), trade_events.alias("entered_review")
    held_since = (
        select(func.max(entered.c.at))
        .where(
            (entered.c.trade_id == left.c.trade_id)
            & (entered.c.to_status == "in_review")
            & (entered.c.at <= left.c.at)
        )
        .correlate(left)
        .scalar_subquery()
    )
    durations = (
        select(_seconds(conn, left.c.at, held_since).label("seconds"))
        .select_from(left.join(trades, _t.id == left.c.trade_id))
        .where(
            (left.c.from_status == "in_review")
            & (left.c.to_status != "in_review")
            & _in(left.c.at, period)
            & (_t.currency == currency)
        )
        .subquery()
    )
    return _percentiles(conn, durations, 50)


def _refusals(conn: Connection, period: Period, currency: str) -> dict[str, int]:
    """Trades refused in the period by the first reason of the decision that refused them."""
    d = decisions.c
    refusing = (
        select(func.max(d.id))
        .where((d.trade_id == _e.trade_id) & (d.outcome == "reject") & (d.stage != "shadow"))
        .correlate(trade_events)
        .scalar_subquery()
    )
    reason = decisions.c.reasons[0].as_string()
    rows = conn.execute(
        select(reason.label("reason"), func.count().label("n"))
        .select_from(trade_events.join(trades, _t.id == _e.trade_id).outerjoin(decisions, d.id == refusing))
        .where(_move(period, currency, None, "rejected"))
        .group_by(reason)
    )
    found: dict[str, int] = {}
    for row in rows:
        key = row.reason or OTHER
        found[key] = found.get(key, 0) + int(row.n)
    return found


def _ledger_flow(
    conn: Connection, period: Period, currency: str, debit: str, credit: str | None = None
) -> Flow:
    """Transfers of the period from an account of kind `debit` (to one of kind `credit`, when given)."""
    tr = ledger_transfers.c
    debited, credited = ledger_accounts.alias("debited"), ledger_accounts.alias("credited")
    where = (
        _in(tr.created_at, period)
        & (tr.currency == currency)
        & tr.phase.in_(["single", "post"])
        & (debited.c.kind == debit)
    )
    if credit is not None:
        where &= credited.c.kind == credit
    count, total = conn.execute(
        select(func.count(), func.coalesce(func.sum(tr.amount), 0))
        .select_from(
            ledger_transfers.join(debited, debited.c.id == tr.debit_account_id).join(
                credited, credited.c.id == tr.credit_account_id
            )
        )
        .where(where)
    ).one()
    return Flow(int(count), int(total))


def audit_head(conn: Connection, period: Period) -> AuditHead | None:
    """The audit chain's head as it stood at the period's end: its newest entry written before then."""
    a = audit_log.c
    row = conn.execute(
        select(a.id, a.hash, a.at).where(a.at < period.end).order_by(a.id.desc()).limit(1)
    ).first()
    return None if row is None else AuditHead(int(row.id), str(row.hash), row.at)


def promise_figures(conn: Connection, period: Period, currency: str) -> PromiseFigures:
    """Payout-promise misses and the compensation paid for them in the period (one deployment
    currency: the compensation is paid in it)."""
    misses, paid = promise_service.promise_figures(conn, period.start, period.end)
    return PromiseFigures(misses, Flow(misses, paid))


def issuer_pauses(conn: Connection, period: Period, tz: str) -> list[IssuerPause]:
    """The issuer guard's pauses and suspensions in force at any moment of the period, with reasons
    in the words sellers read on the brand's page (dated in `tz`); `until` None when one still stood
    at the period's end (a later lifting is the next period's news)."""
    return [
        IssuerPause(
            p["issuer"],
            tuple(p["brands"]),
            p["action"],
            p["reason"],
            p["reason_text"],
            p["from"],
            p["to"] if p["to"] is not None and p["to"] < period.end else None,
        )
        for p in issuer_views.issuer_pauses(conn, period.start, period.end, ZoneInfo(tz))
    ]


def fraud_report_figures(conn: Connection, period: Period) -> FraudFigures | None:
    """Fraud reports received in the period, and the median time from a report to its case's first
    hold or freeze, over the freezes of the period (wherever its report came in): the nearest rank,
    like every median of the report (a time some case took, never the mean of two)."""
    found = fraud_service.figures(conn, period.start, period.end)
    c = fraud_cases.c
    durations = (
        select(_seconds(conn, c.frozen_at, c.received_at).label("seconds"))
        .where(_in(c.frozen_at, period))
        .subquery()
    )
    median = _percentiles(conn, durations, 50)
    return FraudFigures(found.reports, median.count, median.p50)
