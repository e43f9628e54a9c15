"""Trade SQL: rows, conditional status changes with their events, decisions, usage sums."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from voucher_exchange.db.schema import decisions, seller_flags, trade_events, trades
from voucher_exchange.jobs import queue
from voucher_exchange.trades.models import COUNTS_TOWARDS_LIMITS, NOTIFY_ON, NOTIFY_TRADE, TradeStatus


def insert_trade(conn: Connection, values: dict[str, Any]) -> None:
    """Store a new trade row."""
    conn.execute(insert(trades).values(**values))


def get(conn: Connection, trade_id: str) -> Any:
    """A trade row, or None."""
    return conn.execute(select(trades).where(trades.c.id == trade_id)).first()


def list_for_user(conn: Connection, user_id: str, limit: int, status: str | None) -> list[Any]:
    """A seller's trades, newest first."""
    query = select(trades).where(trades.c.user_id == user_id)
    if status:
        query = query.where(trades.c.status == status)
    return list(conn.execute(query.order_by(trades.c.created_at.desc(), trades.c.id).limit(limit)))


def list_by_status(conn: Connection, status: TradeStatus, limit: int) -> list[Any]:
    """Trades in one status, oldest first (the review queue)."""
    return list(
        conn.execute(
            select(trades)
            .where(trades.c.status == status.value)
            .order_by(trades.c.updated_at, trades.c.id)
            .limit(limit)
        )
    )


def transition(
    conn: Connection,
    trade_id: str,
    expected: TradeStatus,
    target: TradeStatus,
    now: datetime,
    actor: str,
    note: str | None = None,
    **values: Any,
) -> bool:
    """`UPDATE … WHERE status = expected`, plus its event; False if someone moved it first."""
    result = conn.execute(
        update(trades)
        .where((trades.c.id == trade_id) & (trades.c.status == expected.value))
        .values(status=target.value, updated_at=now, **values)
    )
    if not result.rowcount:
        return False
    add_event(conn, trade_id, expected, target, now, actor, note)
    if target in NOTIFY_ON:
        # In the same transaction as the change: the seller's e-mail cannot be lost (outbox).
        queue.enqueue(conn, NOTIFY_TRADE, f"{trade_id}:{target.value}", now)
    return True


def add_event(
    conn: Connection,
    trade_id: str,
    from_status: TradeStatus | None,
    to_status: TradeStatus,
    now: datetime,
    actor: str,
    note: str | None,
) -> None:
    """Append to the trade's history."""
    conn.execute(
        insert(trade_events).values(
            trade_id=trade_id,
            at=now,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            actor=actor,
            note=note,
        )
    )


def events(conn: Connection, trade_id: str) -> list[Any]:
    """The trade's history, oldest first."""
    return list(
        conn.execute(
            select(trade_events).where(trade_events.c.trade_id == trade_id).order_by(trade_events.c.id)
        )
    )


def add_decision(
    conn: Connection,
    trade_id: str,
    stage: str,
    outcome: str,
    reasons: list[str],
    ruleset_version: str,
    evidence: dict[str, Any],
    decided_by: str,
    now: datetime,
    note: str | None = None,
) -> None:
    """Store a decision with the facts it saw."""
    conn.execute(
        insert(decisions).values(
            trade_id=trade_id,
            stage=stage,
            outcome=outcome,
            reasons=reasons,
            ruleset_version=ruleset_version,
            evidence=evidence,
            decided_by=decided_by,
            note=note,
            created_at=now,
        )
    )


def latest_decision(conn: Connection, trade_id: str) -> Any:
    """The newest enforced decision on a trade (shadow decisions are never shown), or None."""
    return conn.execute(
        select(decisions)
        .where((decisions.c.trade_id == trade_id) & (decisions.c.stage != "shadow"))
        .order_by(decisions.c.id.desc())
        .limit(1)
    ).first()


def all_decisions(conn: Connection, trade_id: str) -> list[Any]:
    """Every decision on a trade, oldest first."""
    return list(
        conn.execute(select(decisions).where(decisions.c.trade_id == trade_id).order_by(decisions.c.id))
    )


def used_since(conn: Connection, user_id: str, since: datetime, exclude: str) -> int:
    """Face value the seller has sold (or is selling) since `since`, minus one trade."""
    total = conn.execute(
        select(func.coalesce(func.sum(trades.c.face_value), 0)).where(
            (trades.c.user_id == user_id)
            & (trades.c.created_at >= since)
            & trades.c.status.in_([s.value for s in COUNTS_TOWARDS_LIMITS])
            & (trades.c.id != exclude)
        )
    ).scalar_one()
    return int(total)


def flag_seller(
    conn: Connection, user_id: str, trade_id: str, kind: str, details: dict[str, Any], now: datetime
) -> None:
    """Record something against a seller (e.g. a false acquisition declaration)."""
    conn.execute(
        insert(seller_flags).values(
            user_id=user_id, trade_id=trade_id, kind=kind, details=details, created_at=now
        )
    )


def flags_for(conn: Connection, user_id: str) -> list[Any]:
    """Everything recorded against a seller."""
    return list(
        conn.execute(
            select(seller_flags).where(seller_flags.c.user_id == user_id).order_by(seller_flags.c.id)
        )
    )


def record_issue_date(conn: Connection, trade_id: str, issued_at: datetime | None) -> None:
    """Keep the issuer's issue date on the trade (a risk feature for later trades)."""
    if issued_at is not None:
        conn.execute(update(trades).where(trades.c.id == trade_id).values(issued_at=issued_at))


def paid_at(conn: Connection, trade_id: str) -> datetime | None:
    """When the trade became paid."""
    row = conn.execute(
        select(trade_events.c.at).where(
            (trade_events.c.trade_id == trade_id) & (trade_events.c.to_status == "paid")
        )
    ).first()
    return row.at if row else None
