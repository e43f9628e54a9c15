"""Quote SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from voucher_exchange.db.schema import quotes
from voucher_exchange.money import Money
from voucher_exchange.quotes.models import Quote


def save(conn: Connection, quote: Quote) -> None:
    """Store a new quote."""
    conn.execute(
        insert(quotes).values(
            id=quote.id,
            user_id=quote.user_id,
            brand_slug=quote.brand,
            currency=quote.face_value.currency,
            face_value=quote.face_value.amount,
            rate_version=quote.rate_version,
            rate_bps=quote.rate_bps,
            fee=quote.fee.amount,
            payout=quote.payout.amount,
            created_at=quote.created_at,
            expires_at=quote.expires_at,
        )
    )


def _to_quote(row: Any) -> Quote:
    cur = row.currency
    return Quote(
        id=row.id,
        user_id=row.user_id,
        brand=row.brand_slug,
        face_value=Money(int(row.face_value), cur),
        rate_version=int(row.rate_version),
        rate_bps=int(row.rate_bps),
        fee=Money(int(row.fee), cur),
        payout=Money(int(row.payout), cur),
        created_at=row.created_at,
        expires_at=row.expires_at,
        trade_id=row.trade_id,
    )


def get(conn: Connection, quote_id: str) -> Quote | None:
    """A quote by id."""
    row = conn.execute(select(quotes).where(quotes.c.id == quote_id)).first()
    return _to_quote(row) if row else None


def take(conn: Connection, quote_id: str, trade_id: str) -> bool:
    """Mark the quote used by `trade_id`; False if another trade took it first."""
    result = conn.execute(
        update(quotes)
        .where((quotes.c.id == quote_id) & quotes.c.trade_id.is_(None))
        .values(trade_id=trade_id)
    )
    return bool(result.rowcount)
