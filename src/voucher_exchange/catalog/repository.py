"""Catalog SQL: brands and their rate versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from voucher_exchange.catalog.models import (
    Brand,
    BrandStanding,
    BrandStatus,
    CodeFormat,
    FaceValues,
    RateSchedule,
)
from voucher_exchange.db.dialect import locked
from voucher_exchange.db.schema import brand_rates, brands


def _latest_rates() -> Any:
    latest = (
        select(brand_rates.c.brand_slug, func.max(brand_rates.c.version).label("version"))
        .group_by(brand_rates.c.brand_slug)
        .subquery()
    )
    return (
        select(brands, brand_rates.c.version.label("rate_version"), brand_rates.c.bands)
        .join(brand_rates, brand_rates.c.brand_slug == brands.c.slug)
        .join(
            latest,
            (latest.c.brand_slug == brand_rates.c.brand_slug) & (latest.c.version == brand_rates.c.version),
        )
    )


# Built once: SQLAlchemy would otherwise rebuild and cache-key the join on every call.
_BY_SLUG = _latest_rates().where(brands.c.slug == bindparam("slug"))


def _to_brand(row: Any) -> Brand:
    return Brand(
        slug=row.slug,
        currency=row.currency,
        name_ko=row.name_ko,
        name_en=row.name_en,
        issuer=row.issuer,
        status=BrandStatus(row.status),
        face_values=FaceValues.from_json(row.face_values),
        code_format=CodeFormat.from_json(row.code_format),
        rates=RateSchedule(row.rate_version, RateSchedule.bands_from_json(row.bands)),
        scam_favoured=bool(row.scam_favoured),
        daily_cap=None if row.daily_cap is None else int(row.daily_cap),
    )


def get_brand(conn: Connection, slug: str) -> Brand | None:
    """The brand with its current rate version, or None."""
    row = conn.execute(_BY_SLUG, {"slug": slug}).first()
    return _to_brand(row) if row else None


def code_format_of(slug: Any) -> Any:
    """The code format of the brand `slug` (a column of the caller's statement) as a column
    `brand_code_format` of the caller's own SELECT (NULL: no such brand); read it back with
    `code_format_from`."""
    found = select(brands.c.code_format).where(brands.c.slug == slug).scalar_subquery()
    return found.label("brand_code_format")


def code_format_from(row: Any) -> CodeFormat | None:
    """The code format read by `code_format_of`, or None when there is no such brand."""
    return None if row.brand_code_format is None else CodeFormat.from_json(row.brand_code_format)


def standing_columns() -> list[Any]:
    """The brand's standing (bound to `brand_slug`) as columns for a caller's own SELECT, read
    back with `standing_from`."""
    by_slug = brands.c.slug == bindparam("brand_slug")
    return [
        select(column).where(by_slug).scalar_subquery().label(f"brand_{column.name}")
        for column in (brands.c.status, brands.c.scam_favoured, brands.c.name_ko, brands.c.name_en)
    ]


def standing_from(row: Any) -> BrandStanding | None:
    """The standing read by `standing_columns`, or None if there is no such brand."""
    if row.brand_status is None:
        return None
    return BrandStanding(
        BrandStatus(row.brand_status), bool(row.brand_scam_favoured), row.brand_name_ko, row.brand_name_en
    )


def get_brand_stamped(conn: Connection, slug: str) -> tuple[Brand, datetime] | None:
    """The brand with its current rate version and the row's `updated_at`, or None."""
    row = conn.execute(_BY_SLUG, {"slug": slug}).first()
    return (_to_brand(row), row.updated_at) if row else None


def list_brands(conn: Connection, currency: str | None = None) -> list[Brand]:
    """All brands (of one currency when given), by slug."""
    query = _latest_rates().order_by(brands.c.slug)
    if currency:
        query = query.where(brands.c.currency == currency)
    return [_to_brand(r) for r in conn.execute(query)]


def save_brand(conn: Connection, data: dict[str, Any], now: datetime) -> bool:
    """Insert or update a brand's descriptive fields; True when it was new."""
    values = {
        "currency": data["currency"],
        "name_ko": data["name_ko"],
        "name_en": data["name_en"],
        "issuer": data["issuer"],
        "status": data["status"],
        "face_values": data["face_values"],
        "code_format": data["code_format"],
        "scam_favoured": bool(data.get("scam_favoured", False)),
        "updated_at": now,
    }
    changed = conn.execute(update(brands).where(brands.c.slug == data["slug"]).values(**values))
    if changed.rowcount:
        return False
    conn.execute(insert(brands).values(slug=data["slug"], **values))
    return True


def set_status(conn: Connection, slug: str, status: BrandStatus, now: datetime) -> BrandStatus | None:
    """Change a brand's status; the status it had (read under a row lock); None: no such brand."""
    before = conn.execute(locked(conn, select(brands.c.status).where(brands.c.slug == slug))).scalar()
    if before is None:
        return None
    conn.execute(update(brands).where(brands.c.slug == slug).values(status=status.value, updated_at=now))
    return BrandStatus(before)


def set_daily_cap(conn: Connection, slug: str, cap: int | None, now: datetime) -> tuple[int | None] | None:
    """Set or clear a brand's daily cap; (the cap it had,) read under a row lock; None: no such brand."""
    row = conn.execute(locked(conn, select(brands.c.daily_cap).where(brands.c.slug == slug))).first()
    if row is None:
        return None
    conn.execute(update(brands).where(brands.c.slug == slug).values(daily_cap=cap, updated_at=now))
    return (None if row.daily_cap is None else int(row.daily_cap),)


def issuer_codes(conn: Connection) -> list[str]:
    """Every issuer the catalog names, sorted."""
    return sorted(conn.execute(select(brands.c.issuer).distinct()).scalars())


def current_rate_bands(conn: Connection, slug: str) -> tuple[int, list[dict[str, int]]] | None:
    """(version, bands) of the brand's newest rate schedule."""
    row = conn.execute(
        select(brand_rates.c.version, brand_rates.c.bands)
        .where(brand_rates.c.brand_slug == slug)
        .order_by(brand_rates.c.version.desc())
        .limit(1)
    ).first()
    return (row.version, list(row.bands)) if row else None


def add_rate_version(
    conn: Connection,
    slug: str,
    version: int,
    bands: list[dict[str, int]],
    now: datetime,
    actor: str,
) -> None:
    """Append an immutable rate version (the unique key refuses a racing duplicate)."""
    conn.execute(
        insert(brand_rates).values(
            brand_slug=slug, version=version, bands=bands, created_at=now, created_by=actor
        )
    )


def rate_history(conn: Connection, slug: str) -> list[dict[str, Any]]:
    """Every rate version of a brand, oldest first."""
    rows = conn.execute(
        select(brand_rates).where(brand_rates.c.brand_slug == slug).order_by(brand_rates.c.version)
    )
    return [dict(r._mapping) for r in rows]
