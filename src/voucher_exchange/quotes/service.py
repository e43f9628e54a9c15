"""Quote use cases."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection

from voucher_exchange.accounts.models import User
from voucher_exchange.catalog import cache as brand_cache
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import Brand
from voucher_exchange.clock import Clock
from voucher_exchange.config import Settings
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, DomainError, InvalidInput
from voucher_exchange.money import Money
from voucher_exchange.quotes import models, repository
from voucher_exchange.quotes.models import Quote


def take_quote(ctx: Context, user: User, brand_slug: str, face_value: Money) -> Quote:
    """Use case: a seller takes a binding quote (see `create_quote`)."""
    with ctx.uow() as uow:
        quote = create_quote(uow.conn, ctx.settings, ctx.clock, user, brand_slug, face_value)
        uow.commit()
    return quote


def create_quote(
    conn: Connection,
    settings: Settings,
    clock: Clock,
    user: User,
    brand_slug: str,
    face_value: Money,
) -> Quote:
    """Price and store a binding quote for the deployment's currency.

    Priced from this process's cached brand when the database confirms, in the same
    insert, that the brand has not changed since (catalog/cache.py); else from a fresh
    read, so a suspension or rate change is never missed.
    """
    now = clock.now()
    known = brand_cache.cached(conn, brand_slug)
    if known is not None:
        try:
            quote = _price(settings, user, known.brand, face_value, now)
            _within_daily_cap(conn, known.brand, face_value, now)
        except DomainError:
            pass  # refuse only on fresh data: the cached brand may be out of date
        else:
            if repository.save_if_brand_unchanged(conn, quote, known.updated_at):
                return quote
    fresh = brand_cache.load(conn, brand_slug)
    if fresh is None:
        raise catalog.unknown_brand(brand_slug)
    quote = _price(settings, user, fresh.brand, face_value, now)
    _within_daily_cap(conn, fresh.brand, face_value, now)
    repository.save(conn, quote)
    return quote


def _within_daily_cap(conn: Connection, brand: Brand, face_value: Money, now: datetime) -> None:
    """Refuse a quote that would take today's sold face value past the brand's daily cap.

    Sold = quotes of the brand taken by a trade since 00:00 UTC. The check is on new quotes only:
    a quote already given is honoured, so the day may end a few quotes past the cap.
    """
    if brand.daily_cap is None:
        return
    sold = repository.sold_since(conn, brand.slug, models.day_start(now))
    if sold + face_value.amount > brand.daily_cap:
        raise Conflict(
            "brand_daily_cap_reached",
            f"We have bought as many {brand.name_en} vouchers as we buy in a day. Try again tomorrow.",
            "brand",
        )


def _price(settings: Settings, user: User, brand: Brand, face_value: Money, now: datetime) -> Quote:
    if brand.currency != settings.currency:
        raise InvalidInput(
            "currency_mismatch",
            f"This exchange pays out in {settings.currency}; {brand.name_en} is sold in {brand.currency}.",
            "brand",
        )
    return models.price(str(uuid.uuid4()), user.id, brand, face_value, now, settings.quote_ttl_seconds)


def preview(conn: Connection, settings: Settings, clock: Clock, brand_slug: str, face_value: Money) -> Quote:
    """What a quote would say right now (the rate calculator); nothing is stored or promised."""
    brand = catalog.require_brand(conn, brand_slug)
    if brand.currency != settings.currency:
        raise InvalidInput("currency_mismatch", f"This exchange pays out in {settings.currency}.", "brand")
    return models.price("preview", "", brand, face_value, clock.now(), settings.quote_ttl_seconds)
