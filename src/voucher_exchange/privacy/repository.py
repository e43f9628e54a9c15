"""Erasure SQL: what a person still has in flight. The rows erasure forgets belong to their
owners (accounts, payouts, idempotency), which each provide the function that forgets them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from voucher_exchange.db.schema import payouts, trade_events, trades


def open_trades(conn: Connection, user_id: str, terminal: frozenset[str]) -> int:
    """How many of the person's trades are not finished."""
    query = select(func.count()).where((trades.c.user_id == user_id) & trades.c.status.not_in(terminal))
    return int(conn.execute(query).scalar_one())


def unsettled_payouts(conn: Connection, user_id: str, settled: frozenset[str]) -> int:
    """How many payouts to the person are not settled."""
    query = select(func.count()).where((payouts.c.user_id == user_id) & payouts.c.status.not_in(settled))
    return int(conn.execute(query).scalar_one())


def destinations_named_by_trades(user_id: str) -> Select[Any]:
    """The payout destinations the person's trades name (kept: a trade's record points at them)."""
    t = trades.c
    named = (t.user_id == user_id) & t.payout_destination_id.is_not(None)
    return select(t.payout_destination_id).where(named)


def last_paid_at(conn: Connection, user_id: str, paid: str) -> datetime | None:
    """When the person's most recent trade became paid (None if none ever was)."""
    e, t = trade_events.c, trades.c
    query = (
        select(func.max(e.at))
        .select_from(trade_events.join(trades, trades.c.id == e.trade_id))
        .where((t.user_id == user_id) & (e.to_status == paid))
    )
    found: datetime | None = conn.execute(query).scalar_one()
    return found
