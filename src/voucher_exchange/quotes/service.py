"""Quote use cases."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection

from voucher_exchange.accounts.models import User
from voucher_exchange.catalog import service as catalog
from voucher_exchange.clock import Clock
from voucher_exchange.config import Settings
from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import Money
from voucher_exchange.quotes import models, repository
from voucher_exchange.quotes.models import Quote


def create_quote(
    conn: Connection,
    settings: Settings,
    clock: Clock,
    user: User,
    brand_slug: str,
    face_value: Money,
) -> Quote:
    """Price and store a binding quote for the deployment's currency."""
    brand = catalog.require_brand(conn, brand_slug)
    if brand.currency != settings.currency:
        raise InvalidInput(
            "currency_mismatch",
            f"This exchange pays out in {settings.currency}; {brand.name_en} is sold in {brand.currency}.",
            "brand",
        )
    quote = models.price(
        str(uuid.uuid4()), user.id, brand, face_value, clock.now(), settings.quote_ttl_seconds
    )
    repository.save(conn, quote)
    return quote


def preview(conn: Connection, settings: Settings, clock: Clock, brand_slug: str, face_value: Money) -> Quote:
    """What a quote would say right now (the rate calculator); nothing is stored or promised."""
    brand = catalog.require_brand(conn, brand_slug)
    if brand.currency != settings.currency:
        raise InvalidInput("currency_mismatch", f"This exchange pays out in {settings.currency}.", "brand")
    return models.price("preview", "", brand, face_value, clock.now(), settings.quote_ttl_seconds)
