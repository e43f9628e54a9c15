"""Every default rule: hit, no hit, boundary. Combination order. Hard rules cannot be switched off."""

from __future__ import annotations

from typing import Any

import pytest

from voucher_exchange.errors import InvalidInput
from voucher_exchange.risk import rules
from voucher_exchange.risk.rules import default_ruleset, evaluate
from voucher_exchange.risk.screening import Outcome

DEFAULT = default_ruleset()

# A seller nobody should stop: a week-old account, first sale, ₩50,000 of an ordinary brand.
HONEST: dict[str, Any] = {
    "face_value": 50000, "high_value": False, "scam_favoured": False,
    "seller_trades_1h": 0, "seller_trades_24h": 0, "seller_trades_30d": 0,
    "prior_paid_trades": 0, "first_trade": True, "account_age_hours": 0.5,
    "device_trades_24h": 0, "device_sellers_24h": 1, "ip_sellers_24h": 1,
    "account_sellers_30d": 1, "seller_accounts_30d": 1, "destination_age_hours": 0.4,
    "brand_trades_1h": 3, "amount_today": 50000, "amount_month": 50000, "over_daily_cumulative": False,
    "declared_method": "gift", "issuer_channel": "card", "channel_mismatch": False,
    "voucher_age_hours": 0.2, "fresh_voucher": True, "seller_fresh_30d": 0, "seller_fresh_share_30d": 0.0,
    "false_declarations": 0, "sanctions": "none",
}  # fmt: skip


def hits(features: dict[str, Any]) -> list[str]:
    return [r["id"] for r in evaluate(DEFAULT, features).results if r["hit"]]


def test_an_honest_first_time_seller_of_50000_won_is_approved() -> None:
    verdict = evaluate(DEFAULT, HONEST)
    assert (verdict.outcome, verdict.reasons, verdict.score) == (Outcome.APPROVE, [], 0)


# (rule id, features that just hit it, features that just miss it)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("seller_velocity_1h", {"seller_trades_1h": 5}, {"seller_trades_1h": 4}),
    ("seller_velocity_24h", {"seller_trades_24h": 15}, {"seller_trades_24h": 14}),
    ("device_many_sellers", {"device_sellers_24h": 3}, {"device_sellers_24h": 2}),
    ("device_velocity", {"device_trades_24h": 10}, {"device_trades_24h": 9}),
    ("mule_shared_account", {"account_sellers_30d": 2}, {"account_sellers_30d": 1}),
    ("rotating_accounts", {"seller_accounts_30d": 3}, {"seller_accounts_30d": 2}),
    (
        "takeover_new_account_burst",
        {"destination_age_hours": 23.9, "account_age_hours": 168, "seller_trades_1h": 2},
        {"destination_age_hours": 24, "account_age_hours": 168, "seller_trades_1h": 2},
    ),
    (
        "fresh_voucher_cashout",
        {"fresh_voucher": True, "seller_fresh_30d": 2, "seller_fresh_share_30d": 0.5},
        {"fresh_voucher": True, "seller_fresh_30d": 2, "seller_fresh_share_30d": 0.49},
    ),
    (
        "scam_brand_new_account",
        {"scam_favoured": True, "high_value": True, "account_age_hours": 71.9},
        {"scam_favoured": True, "high_value": True, "account_age_hours": 72},
    ),
    ("cumulative_daily", {"over_daily_cumulative": True}, {"over_daily_cumulative": False}),
    ("prior_false_declaration", {"false_declarations": 1}, {"false_declarations": 0}),
    ("channel_mismatch", {"channel_mismatch": True}, {"channel_mismatch": False}),
    ("first_trade_high_value", {"high_value": True}, {"high_value": True, "first_trade": False}),
    ("busy_ip", {"ip_sellers_24h": 50}, {"ip_sellers_24h": 49}),
    (
        "young_account_many_trades",
        {"account_age_hours": 23, "seller_trades_24h": 3},
        {"account_age_hours": 24, "seller_trades_24h": 3},
    ),
]


def test_every_default_rule_has_a_case() -> None:
    assert sorted(r.id for r in DEFAULT.rules) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(("rule_id", "hit", "miss"), CASES, ids=[c[0] for c in CASES])
def test_rule_hits_at_its_boundary_and_not_below(
    rule_id: str, hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    assert rule_id in hits({**HONEST, **hit})
    assert rule_id not in hits({**HONEST, **miss})
    assert rule_id not in hits(HONEST)


def test_review_rules_hold_with_their_reason() -> None:
    verdict = evaluate(DEFAULT, {**HONEST, "account_sellers_30d": 3})
    assert (verdict.outcome, verdict.reasons) == (Outcome.REVIEW, ["payout_account_shared"])


def test_scores_add_up_to_the_thresholds() -> None:
    below = evaluate(DEFAULT, {**HONEST, "channel_mismatch": True, "ip_sellers_24h": 60})
    assert (below.outcome, below.score) == (Outcome.APPROVE, 50)
    at = evaluate(
        DEFAULT, {**HONEST, "channel_mismatch": True, "account_age_hours": 1, "seller_trades_24h": 3}
    )
    assert (at.outcome, at.score, at.reasons) == (Outcome.REVIEW, 60, ["risk_score"])
    top = evaluate(
        DEFAULT,
        {**HONEST, "channel_mismatch": True, "account_age_hours": 1, "seller_trades_24h": 3,
         "ip_sellers_24h": 60, "high_value": True},
    )  # fmt: skip
    assert (top.outcome, top.score) == (Outcome.REJECT, 100)


def test_reject_beats_review_beats_approve() -> None:
    strict = rules.parse(
        {
            "version": "t",
            "rules": [
                {"id": "r", "description": "d", "when": {"feature": "face_value", "op": ">", "value": 0},
                 "effect": "review", "reason": "velocity"},
                {"id": "x", "description": "d", "when": {"feature": "face_value", "op": ">", "value": 10},
                 "effect": "reject", "reason": "velocity"},
            ],
        }
    )  # fmt: skip
    assert evaluate(strict, {**HONEST, "face_value": 5}).outcome is Outcome.REVIEW
    assert evaluate(strict, {**HONEST, "face_value": 50}).outcome is Outcome.REJECT


@pytest.mark.parametrize(
    ("features", "outcome", "reason"),
    [
        ({"issuer_channel": "carrier_billing"}, Outcome.REJECT, "carrier_billing_prohibited"),
        ({"declared_method": "carrier_billing"}, Outcome.REJECT, "carrier_billing_prohibited"),
        ({"sanctions": "strong"}, Outcome.REJECT, "sanctions_match"),
        ({"underage": True}, Outcome.REJECT, "underage"),
        ({"sanctions": "weak"}, Outcome.REVIEW, "sanctions_match"),
    ],
)
def test_hard_rules_hold_even_with_an_empty_rule_set(
    features: dict[str, Any], outcome: Outcome, reason: str
) -> None:
    empty = rules.parse(
        {"version": "empty", "rules": [], "thresholds": {"review_at": 10**9, "reject_at": 10**9}}
    )
    verdict = evaluate(empty, {**HONEST, **features})
    assert (verdict.outcome, verdict.reasons) == (outcome, [reason])
    assert evaluate(DEFAULT, {**HONEST, **features}).outcome is outcome


def test_a_rule_set_cannot_allow_what_hard_rules_refuse() -> None:
    allow = {
        "id": "a", "description": "d", "effect": "approve", "reason": "x",
        "when": {"feature": "sanctions", "op": "==", "value": "strong"},
    }  # fmt: skip
    with pytest.raises(InvalidInput):
        rules.parse({"version": "v", "rules": [allow]})


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ({"when": {"feature": "nope", "op": "==", "value": 1}}, "unknown feature"),
        ({"when": {"feature": "face_value", "op": "~", "value": 1}}, "needs op"),
        ({"when": {"all": []}}, "non-empty list"),
        ({"reason": "brand_new_code"}, "needs en and ko messages"),
        ({"effect": "score", "score": 0}, "positive score"),
    ],
)
def test_bad_rule_sets_are_refused_with_the_reason(rule: dict[str, Any], complaint: str) -> None:
    base = {"id": "r1", "description": "d", "when": {"feature": "face_value", "op": ">", "value": 1},
            "effect": "review", "reason": "velocity"}  # fmt: skip
    with pytest.raises(InvalidInput, match=complaint):
        rules.parse({"version": "v", "rules": [{**base, **rule}]})


def test_a_missing_feature_never_satisfies_a_comparison() -> None:
    assert not rules.holds(
        {"feature": "voucher_age_hours", "op": "<", "value": 24}, {"voucher_age_hours": None}
    )
    assert rules.holds({"not": {"feature": "voucher_age_hours", "op": "<", "value": 24}}, {})
