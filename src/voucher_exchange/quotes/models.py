"""Pricing a quote: pure arithmetic over the brand's current rate schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from voucher_exchange.catalog.models import Brand, BrandStatus
from voucher_exchange.errors import Conflict
from voucher_exchange.money import Money, fee_for


@dataclass(frozen=True)
class Quote:
    """A binding offer: pay `payout` for a voucher of `face_value`, until `expires_at`."""

    id: str
    user_id: str
    brand: str
    face_value: Money
    rate_version: int
    rate_bps: int
    fee: Money
    payout: Money
    created_at: datetime
    expires_at: datetime
    trade_id: str | None = None

    def is_expired(self, now: datetime) -> bool:
        """True at or after `expires_at`."""
        return now >= self.expires_at


def day_start(moment: datetime) -> datetime:
    """00:00 UTC of the moment's day: when a daily cap starts counting again."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def price(
    quote_id: str, user_id: str, brand: Brand, face_value: Money, now: datetime, ttl_seconds: int
) -> Quote:
    """Price a voucher at the brand's current rate; fee rounds down (seller's favour)."""
    if brand.status is not BrandStatus.ACTIVE:
        code = "brand_suspended" if brand.status is BrandStatus.SUSPENDED else "brand_paused"
        raise Conflict(code, f"We are not buying {brand.name_en} vouchers at the moment.", "brand")
    brand.check_face_value(face_value)
    rate = brand.rates.rate_for(face_value.amount)
    fee = fee_for(face_value, rate)
    return Quote(
        id=quote_id,
        user_id=user_id,
        brand=brand.slug,
        face_value=face_value,
        rate_version=brand.rates.version,
        rate_bps=rate,
        fee=fee,
        payout=face_value - fee,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
