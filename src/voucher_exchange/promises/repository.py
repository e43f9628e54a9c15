"""Promise SQL: the operator's terms per rail and the promise each trade was made."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import payout_promise_terms, trade_promises
from voucher_exchange.money import Money
from voucher_exchange.promises.models import BankWindow, Exclusion, PromiseTerms, TradePromise


def terms(conn: Connection, rail: str, tz: str) -> PromiseTerms | None:
    """The terms the operator set for a rail, or None before they set any."""
    row = conn.execute(select(payout_promise_terms).where(payout_promise_terms.c.rail == rail)).first()
    return (
        None
        if row is None
        else _terms(row.minutes, row.compensation_bps, row.window_start, row.window_end, tz)
    )


_TERMS = ("minutes", "compensation_bps", "window_start", "window_end")


def terms_columns(rail: str) -> list[Any]:
    """A rail's terms as columns `promise_<name>` of a caller's own SELECT (NULL before the operator
    set any); `terms_from` reads them back."""
    t = payout_promise_terms.c
    return [
        select(t[name]).where(t.rail == rail).scalar_subquery().label(f"promise_{name}") for name in _TERMS
    ]


def terms_from(row: Any, tz: str) -> PromiseTerms | None:
    """The terms read by `terms_columns`, or None before the operator set any."""
    if row.promise_minutes is None:
        return None
    return _terms(
        row.promise_minutes,
        row.promise_compensation_bps,
        row.promise_window_start,
        row.promise_window_end,
        tz,
    )


def _terms(minutes: int, compensation_bps: int, window_start: str, window_end: str, tz: str) -> PromiseTerms:
    window = BankWindow(time.fromisoformat(window_start), time.fromisoformat(window_end), tz)
    return PromiseTerms(int(minutes), int(compensation_bps), window)


def save_terms(conn: Connection, rail: str, new: PromiseTerms, now: datetime, actor: str) -> None:
    """Insert or replace a rail's terms."""
    values = {
        "minutes": new.minutes,
        "compensation_bps": new.compensation_bps,
        "window_start": f"{new.window.start:%H:%M}",
        "window_end": f"{new.window.end:%H:%M}",
        "updated_at": now,
        "updated_by": actor,
    }
    changed = conn.execute(
        update(payout_promise_terms).where(payout_promise_terms.c.rail == rail).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(payout_promise_terms).values(rail=rail, **values))


def _promise(row: Any) -> TradePromise:
    return TradePromise(
        trade_id=row.trade_id,
        due_at=row.due_at,
        applies=bool(row.applies),
        excluded_because=Exclusion(row.excluded_because) if row.excluded_because else None,
        compensation_due=Money(int(row.compensation_amount), row.currency),
        compensated_at=row.compensated_at,
    )


def add(conn: Connection, promise: TradePromise, now: datetime) -> bool:
    """Store a trade's promise once (a step run again after a crash writes nothing); True when
    this call stored it."""
    return insert_ignore(
        conn,
        trade_promises,
        {
            "trade_id": promise.trade_id,
            "due_at": promise.due_at,
            "applies": promise.applies,
            "excluded_because": promise.excluded_because.value if promise.excluded_because else None,
            "compensation_amount": promise.compensation_due.amount,
            "currency": promise.compensation_due.currency,
            "compensated_at": None,
            "created_at": now,
        },
        ["trade_id"],
    )


def get(conn: Connection, trade_id: str) -> TradePromise | None:
    """A trade's promise, or None (not secured yet)."""
    row = conn.execute(select(trade_promises).where(trade_promises.c.trade_id == trade_id)).first()
    return None if row is None else _promise(row)


def mark_compensated(conn: Connection, trade_id: str, now: datetime) -> bool:
    """Record that the compensation was added; False if it was already (exactly once)."""
    p = trade_promises.c
    done = conn.execute(
        update(trade_promises)
        .where((p.trade_id == trade_id) & p.applies & p.compensated_at.is_(None))
        .values(compensated_at=now)
    )
    return done.rowcount == 1


def misses_between(conn: Connection, start: datetime, end: datetime) -> tuple[int, int]:
    """(promises missed, compensation added in minor units) for misses recorded in [start, end)."""
    p = trade_promises.c
    row = conn.execute(
        select(func.count(), func.coalesce(func.sum(p.compensation_amount), 0)).where(
            (p.compensated_at >= start) & (p.compensated_at < end)
        )
    ).one()
    return int(row[0]), int(row[1])


def compensations_by_trade(conn: Connection) -> dict[str, int]:
    """trade id → compensation added to its payout (minor units), for every compensated trade."""
    p = trade_promises.c
    rows = conn.execute(select(p.trade_id, p.compensation_amount).where(p.compensated_at.is_not(None)))
    return {r.trade_id: int(r.compensation_amount) for r in rows}
