"""Risk features as the pipeline stores them with the decision: exact values from a real database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.core import Core
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import DecisionStage, TradeStatus

pytestmark = pytest.mark.both_backends


def _features(core: Core, trade_id: str) -> dict[str, Any]:
    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
        decision = trade_repo.latest_decision(uow.conn, trade_id, DecisionStage.RISK)
    assert trade is not None and trade.status is TradeStatus.PAID
    assert decision is not None
    features: dict[str, Any] = decision.evidence["features"]
    return features


COUNTS = (
    "seller_trades_1h",
    "seller_trades_24h",
    "seller_trades_30d",
    "prior_paid_trades",
    "first_trade",
    "amount_today",
    "amount_month",
    "over_daily_cumulative",
    "device_trades_24h",
    "device_sellers_24h",
    "ip_sellers_24h",
    "account_sellers_30d",
    "seller_accounts_30d",
    "brand_trades_1h",
    "false_declarations",
    "seller_fresh_30d",
    "payouts_frozen",
    "sanctions",
)


def test_a_sellers_second_trade_counts_the_first(core: Core) -> None:
    core.fund(1_000_000)
    user, destination, _ = core.seller()
    first = core.submit(user, destination, 50000)
    pipeline.process_trade(core.ctx, first)
    second = core.submit(user, destination, 30000)
    pipeline.process_trade(core.ctx, second)

    before, after = _features(core, first), _features(core, second)

    assert {k: before[k] for k in COUNTS} == {
        "seller_trades_1h": 0,
        "seller_trades_24h": 0,
        "seller_trades_30d": 0,
        "prior_paid_trades": 0,
        "first_trade": True,
        "amount_today": 50000,
        "amount_month": 50000,
        "over_daily_cumulative": False,
        "device_trades_24h": 0,
        "device_sellers_24h": 1,
        "ip_sellers_24h": 1,
        "account_sellers_30d": 1,
        "seller_accounts_30d": 1,
        "brand_trades_1h": 0,
        "false_declarations": 0,
        "seller_fresh_30d": 0,
        "payouts_frozen": False,
        "sanctions": "none",
    }
    assert {k: after[k] for k in COUNTS} == {
        "seller_trades_1h": 1,
        "seller_trades_24h": 1,
        "seller_trades_30d": 1,
        "prior_paid_trades": 1,
        "first_trade": False,
        "amount_today": 80000,
        "amount_month": 80000,
        "over_daily_cumulative": False,
        "device_trades_24h": 0,
        "device_sellers_24h": 1,
        "ip_sellers_24h": 1,
        "account_sellers_30d": 1,
        "seller_accounts_30d": 1,
        "brand_trades_1h": 1,
        "false_declarations": 0,
        "seller_fresh_30d": 1,
        "payouts_frozen": False,
        "sanctions": "none",
    }
    assert after["face_value"] == 30000
    assert after["account_age_hours"] >= 0
    assert after["destination_age_hours"] >= 0


def test_provenance_counts_the_sellers_vouchers_sold_within_a_day_of_being_issued(core: Core) -> None:
    core.fund(1_000_000)
    user, destination, _ = core.seller()
    now = core.ctx.clock.now()
    for hours_before in (25, 23, 240):  # sold 25 hours after issue: not fresh; 23 hours: fresh
        issued = (now - timedelta(hours=hours_before)).isoformat()
        pipeline.process_trade(core.ctx, core.submit(user, destination, 10000, issued_at=issued))
    last = core.submit(user, destination, 10000, issued_at=(now - timedelta(days=3)).isoformat())
    pipeline.process_trade(core.ctx, last)
    with core.ctx.uow(readonly=True) as uow:
        decision = trade_repo.latest_decision(uow.conn, last, DecisionStage.RISK)
    assert decision is not None
    features = decision.evidence["features"]
    assert (features["seller_fresh_30d"], features["seller_fresh_share_30d"]) == (1, 0.333)
    assert (features["voucher_age_hours"], features["fresh_voucher"]) == (72.0, False)
