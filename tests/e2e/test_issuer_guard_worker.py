"""The running worker evaluates the issuer guard once an issuer statement is reconciled: a short
statement pauses the issuer's brand without anyone pressing a button."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest

from tests.support.exchange import Exchange, Seller
from tests.support.polling import poll_until
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.issuers import guard
from voucher_exchange.issuers import repository as issuer_repo
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.reconcile.daily import Statement
from voucher_exchange.reconcile.statements import Source

BRAND = "shinsegae"
OPERATOR = "ops@example.com"


@pytest.fixture
def short_paying(exchange: Exchange) -> Iterator[int]:
    """A rule for shinsegae's issuer alone, and an issuer that settles 10% short; both undone after."""
    rule = guard.add_rule(
        exchange.ctx, BRAND, "settlement_shortfall_bps", 500, "pause_quotes", None, OPERATOR
    )
    assert exchange.sandbox("POST", "/issuer/behavior", {"statement_short_bps": 1000}).status_code == 200
    try:
        yield rule
    finally:
        exchange.sandbox("POST", "/issuer/behavior", {})
        guard.set_rule_enabled(exchange.ctx, rule, False, OPERATOR)
        with exchange.ctx.uow(readonly=True) as uow:
            standing = [a.id for a in issuer_repo.in_force(uow.conn, BRAND)]
        for action_id in standing:
            guard.lift_action(exchange.ctx, action_id, OPERATOR)
        with exchange.ctx.uow() as uow:
            catalog.set_status(uow.conn, BRAND, BrandStatus.ACTIVE, exchange.ctx.clock.now())
            uow.commit()


def _status(exchange: Exchange) -> BrandStatus:
    with exchange.ctx.uow(readonly=True) as uow:
        return catalog.require_brand(uow.conn, BRAND).status


def test_a_short_statement_pauses_the_brand_through_the_worker(
    exchange: Exchange, seller: Seller, short_paying: int
) -> None:
    trade = seller.sell(exchange.mint(BRAND, 50000), BRAND, 50000)
    assert seller.api.wait_for(trade)["status"] == "paid"
    assert _status(exchange) is BrandStatus.ACTIVE
    day = exchange.ctx.clock.now().astimezone(UTC).date()
    text = exchange.sandbox("GET", f"/issuer/statements?date={day.isoformat()}").text

    reconcile_service.reconcile_statement(
        exchange.ctx, Statement(Source.ISSUER, day, "issuer.csv", text), timedelta(minutes=15), OPERATOR
    )

    poll_until(lambda: _status(exchange) is BrandStatus.PAUSED, 20, what="the worker pausing the brand")
    with exchange.ctx.uow(readonly=True) as uow:
        [action] = issuer_repo.in_force(uow.conn, BRAND)
    assert (action.rule_id, action.signal.value, action.observed) == (
        short_paying,
        "settlement_shortfall_bps",
        1000,
    )
    quote = seller.api.post("/quotes", {"brand": BRAND, "face_value": {"amount": 50000, "currency": "KRW"}})
    assert (quote.status_code, quote.json()["error"]["code"]) == (409, "brand_paused")
