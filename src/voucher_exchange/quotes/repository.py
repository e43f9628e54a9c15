"""Quote SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.db.rows import Prefixed
from voucher_exchange.db.schema import brand_rates, brands, quotes
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


_COLUMNS = (
    "id",
    "user_id",
    "brand_slug",
    "currency",
    "face_value",
    "rate_version",
    "rate_bps",
    "fee",
    "payout",
    "created_at",
    "expires_at",
)


def _values(quote: Quote) -> tuple[Any, ...]:
    return (
        quote.id,
        quote.user_id,
        quote.brand,
        quote.face_value.currency,
        quote.face_value.amount,
        quote.rate_version,
        quote.rate_bps,
        quote.fee.amount,
        quote.payout.amount,
        quote.created_at,
        quote.expires_at,
    )


def save_if_brand_unchanged(conn: Connection, quote: Quote, brand_updated_at: datetime) -> bool:
    """Store the quote only if its brand is still active, unchanged since `brand_updated_at`,
    and `quote.rate_version` is still its newest rate; False (nothing stored) otherwise.

    One statement: the check and the write see the same snapshot. Built once (below): SQLAlchemy
    then only binds values, where building it per call was about a third of a quote's CPU.
    """
    params = dict(zip(_COLUMNS, _values(quote), strict=True))
    params["brand_updated_at"] = brand_updated_at
    # RETURNING, not rowcount: with psycopg the rowcount of this INSERT … SELECT came back
    # truthy when nothing was inserted.
    return conn.execute(_SAVE_IF_BRAND_UNCHANGED, params).first() is not None


def _save_if_brand_unchanged() -> Any:
    newest_rate = (
        select(func.max(brand_rates.c.version))
        .where(brand_rates.c.brand_slug == bindparam("brand_slug", type_=quotes.c.brand_slug.type))
        .scalar_subquery()
    )
    values = [bindparam(name, type_=quotes.c[name].type).label(name) for name in _COLUMNS]
    source = select(*values).where(
        (brands.c.slug == bindparam("brand_slug", type_=quotes.c.brand_slug.type))
        & (brands.c.status == BrandStatus.ACTIVE.value)
        & (brands.c.updated_at == bindparam("brand_updated_at", type_=brands.c.updated_at.type))
        & (newest_rate == bindparam("rate_version", type_=quotes.c.rate_version.type))
    )
    return insert(quotes).from_select(list(_COLUMNS), source).returning(quotes.c.id)


_SAVE_IF_BRAND_UNCHANGED = _save_if_brand_unchanged()


def quote_columns(prefix: str) -> list[Any]:
    """The `quotes` columns, each named `prefix` + its name, to read a quote beside another
    table's row (`quote_from`)."""
    return [column.label(prefix + column.name) for column in quotes.c]


def quote_from(row: Any, prefix: str) -> Quote | None:
    """The quote read by `quote_columns(prefix)` (from an outer join: None when there was none)."""
    return None if getattr(row, prefix + "id") is None else _to_quote(Prefixed(row, prefix))


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


def sold_since(conn: Connection, brand: str, since: datetime) -> int:
    """Face value of the brand's quotes created since `since` and taken by a trade."""
    q = quotes.c
    total = conn.execute(
        select(func.coalesce(func.sum(q.face_value), 0)).where(
            q.brand_slug == brand, q.created_at >= since, q.trade_id.is_not(None)
        )
    ).scalar_one()
    return int(total)
