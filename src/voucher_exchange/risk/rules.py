"""Rule sets as data, evaluated by code.

A rule set is an immutable, versioned list of rules. Each rule has a condition over
named features (a small JSON language, validated when the rule set is loaded), an
effect and a stable reason code with messages in Korean and English.

How outcomes combine (documented in docs/risk.md and tested):
1. Hard rules run first and are code, not data: carrier billing, sanctions, age.
   No rule set or setting can remove them.
2. Any hit `reject` rule → reject. Else any hit `review` rule → review.
3. Else the points of hit `score` rules are summed: ≥ `reject_at` → reject,
   ≥ `review_at` → review, otherwise approve.
So reject beats review beats approve, and scores only escalate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from voucher_exchange.errors import InvalidInput
from voucher_exchange.risk.reasons import REASONS
from voucher_exchange.risk.screening import Outcome

Features = dict[str, Any]

# Every feature a rule may name, with what it means (docs/risk.md renders this table).
FEATURES: dict[str, str] = {
    "face_value": "face value of this voucher, minor units",
    "high_value": "face value at or above the jurisdiction pack's high-value line",
    "scam_favoured": "brand is on the scam-favoured list (gift cards scammers ask victims for)",
    "seller_trades_1h": "the seller's other live or paid trades in the last hour",
    "seller_trades_24h": "… in the last 24 hours",
    "seller_trades_30d": "… in the last 30 days",
    "prior_paid_trades": "the seller's trades paid before this one, ever",
    "first_trade": "no earlier paid trade",
    "account_age_hours": "hours since the seller signed up",
    "device_trades_24h": "trades from this device (X-Device-Id) in 24 hours, any seller",
    "device_sellers_24h": "distinct sellers on this device in 24 hours, this one included",
    "ip_sellers_24h": "distinct sellers from this IP address in 24 hours, this one included",
    "account_sellers_30d": (
        "distinct sellers who traded to this bank account in 30 days or registered it verified,"
        " this one included"
    ),
    "seller_accounts_30d": "distinct bank accounts this seller used in 30 days, this one included",
    "destination_age_hours": "hours since this payout account was added",
    "brand_trades_1h": "trades of this brand in the last hour, all sellers",
    "amount_today": "the seller's face value today including this trade, minor units",
    "amount_month": "… this month",
    "over_daily_cumulative": "amount_today above the pack's cumulative daily review line",
    "declared_method": "how the seller says they got the voucher",
    "issuer_channel": "how the issuer says it was bought (None when not reported)",
    "channel_mismatch": "declared card/bank_transfer/promotion contradicts the issuer's channel",
    "voucher_age_hours": "hours since the issuer issued the voucher (None when not reported)",
    "fresh_voucher": "issued less than 24 hours before this trade",
    "seller_fresh_30d": "of the seller's latest 200 other trades in 30 days, those issued < 24 h before sale",
    "seller_fresh_share_30d": "that count as a share of the seller's trades with a known issue date",
    "false_declarations": "acquisition declarations the issuer contradicted, ever",
    "sanctions": "strongest sanctions match of legal name or account holder: none | weak | strong",
    "payouts_frozen": "a sanctions re-screen froze the seller's payouts until a reviewer releases them",
}

OPS = {"==", "!=", ">", ">=", "<", "<=", "in", "not_in"}


class Effect(StrEnum):
    """What a hit rule does."""

    REJECT = "reject"
    """Refuse the trade."""
    REVIEW = "review"
    """Hold it for a person."""
    SCORE = "score"
    """Add points; thresholds decide."""


@dataclass(frozen=True)
class Rule:
    """One rule: when `condition` holds, apply `effect` with `reason`."""

    id: str
    description: str
    condition: dict[str, Any]
    effect: Effect
    reason: str
    score: int = 0
    message_en: str | None = None
    message_ko: str | None = None


@dataclass(frozen=True)
class RuleSet:
    """An immutable version of the rules."""

    version: str
    rules: tuple[Rule, ...]
    review_at: int
    reject_at: int

    def messages(self) -> dict[str, dict[str, str]]:
        """Messages the rules define for their reason codes (overriding the catalogue)."""
        return {
            r.reason: {"en": r.message_en, "ko": r.message_ko}
            for r in self.rules
            if r.message_en and r.message_ko
        }

    def as_json(self) -> dict[str, Any]:
        """The rule-set file format."""
        return {
            "version": self.version,
            "thresholds": {"review_at": self.review_at, "reject_at": self.reject_at},
            "rules": [
                {
                    "id": r.id,
                    "description": r.description,
                    "when": r.condition,
                    "effect": r.effect.value,
                    "reason": r.reason,
                    **({"score": r.score} if r.effect is Effect.SCORE else {}),
                    **({"message": {"en": r.message_en, "ko": r.message_ko}} if r.message_en else {}),
                }
                for r in self.rules
            ],
        }


def _check_condition(cond: Any, where: str) -> None:
    if not isinstance(cond, dict) or len(cond) == 0:
        raise InvalidInput("ruleset_invalid", f"{where}: a condition is a JSON object.")
    if "all" in cond or "any" in cond:
        parts = cond.get("all", cond.get("any"))
        if not isinstance(parts, list) or not parts:
            raise InvalidInput("ruleset_invalid", f"{where}: 'all'/'any' take a non-empty list.")
        for i, part in enumerate(parts):
            _check_condition(part, f"{where}[{i}]")
        return
    if "not" in cond:
        _check_condition(cond["not"], f"{where}.not")
        return
    name, op = cond.get("feature"), cond.get("op")
    if name not in FEATURES:
        raise InvalidInput("ruleset_invalid", f"{where}: unknown feature {name!r}.")
    if op not in OPS or "value" not in cond:
        raise InvalidInput("ruleset_invalid", f"{where}: needs op in {sorted(OPS)} and a value.")


def parse(data: dict[str, Any]) -> RuleSet:
    """A validated rule set from its JSON form; InvalidInput says exactly what is wrong."""
    try:
        version = str(data["version"])
        thresholds = data.get("thresholds", {})
        rules = []
        seen: set[str] = set()
        for i, raw in enumerate(data["rules"]):
            where = f"rules[{i}] ({raw.get('id', '?')})"
            rule = Rule(
                id=str(raw["id"]),
                description=str(raw["description"]),
                condition=raw["when"],
                effect=Effect(raw["effect"]),
                reason=str(raw["reason"]),
                score=int(raw.get("score", 0)),
                message_en=raw.get("message", {}).get("en"),
                message_ko=raw.get("message", {}).get("ko"),
            )
            _check_condition(rule.condition, where)
            if rule.id in seen:
                raise InvalidInput("ruleset_invalid", f"{where}: duplicate rule id.")
            seen.add(rule.id)
            if rule.reason not in REASONS and not (rule.message_en and rule.message_ko):
                raise InvalidInput(
                    "ruleset_invalid", f"{where}: new reason {rule.reason!r} needs en and ko messages."
                )
            if rule.effect is Effect.SCORE and rule.score <= 0:
                raise InvalidInput("ruleset_invalid", f"{where}: a score rule needs a positive score.")
            rules.append(rule)
        return RuleSet(
            version, tuple(rules), int(thresholds.get("review_at", 50)), int(thresholds.get("reject_at", 100))
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("ruleset_invalid", f"Rule set is malformed: {exc}.") from exc


def load_file(path: Path) -> RuleSet:
    """Read and validate a rule-set file."""
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput("ruleset_unreadable", f"Cannot read {path}: {exc}") from exc


def default_ruleset() -> RuleSet:
    """The rule set shipped with the exchange."""
    return load_file(Path(__file__).parent / "rulesets" / "default.json")


def holds(cond: dict[str, Any], features: Features) -> bool:
    """Evaluate a condition; a missing (None) feature never satisfies a comparison."""
    if "all" in cond:
        return all(holds(c, features) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, features) for c in cond["any"])
    if "not" in cond:
        return not holds(cond["not"], features)
    actual, op, expected = features.get(cond["feature"]), cond["op"], cond["value"]
    if actual is None:
        return False
    if op == "==":
        return bool(actual == expected)
    if op == "!=":
        return bool(actual != expected)
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    comparisons = {
        ">": actual > expected,
        ">=": actual >= expected,
        "<": actual < expected,
        "<=": actual <= expected,
    }
    return bool(comparisons[op])


@dataclass(frozen=True)
class Evaluation:
    """A rule set's verdict with every rule's result, for evidence and backtests."""

    version: str
    outcome: Outcome
    reasons: list[str]
    score: int
    results: list[dict[str, Any]] = field(default_factory=list)

    def as_evidence(self) -> dict[str, Any]:
        """JSON-safe record of how the verdict was reached."""
        return {"ruleset": self.version, "score": self.score, "rules": self.results}


# Hard rules: code, evaluated before any rule set; no rule set can switch them off.
def hard_rules(features: Features) -> tuple[Outcome, list[str]]:
    """Carrier billing, sanctions and age: the lines we do not cross."""
    if (
        features.get("issuer_channel") == "carrier_billing"
        or features.get("declared_method") == "carrier_billing"
    ):
        return Outcome.REJECT, ["carrier_billing_prohibited"]
    if features.get("sanctions") == "strong":
        return Outcome.REJECT, ["sanctions_match"]
    if features.get("underage"):
        return Outcome.REJECT, ["underage"]
    if features.get("sanctions") == "weak" or features.get("payouts_frozen"):
        return Outcome.REVIEW, ["sanctions_match"]
    return Outcome.APPROVE, []


def evaluate(ruleset: RuleSet, features: Features) -> Evaluation:
    """Hard rules, then the rule set, combined as the module docstring says."""
    hard_outcome, hard_reasons = hard_rules(features)
    results = []
    rejects: list[str] = []
    reviews: list[str] = []
    scored: list[str] = []
    score = 0
    for rule in ruleset.rules:
        hit = holds(rule.condition, features)
        results.append({"id": rule.id, "hit": hit, "effect": rule.effect.value, "reason": rule.reason})
        if not hit:
            continue
        if rule.effect is Effect.REJECT:
            rejects.append(rule.reason)
        elif rule.effect is Effect.REVIEW:
            reviews.append(rule.reason)
        else:
            score += rule.score
            scored.append(rule.reason)

    def unique(codes: list[str]) -> list[str]:
        return list(dict.fromkeys(codes))

    if hard_outcome is Outcome.REJECT:
        return Evaluation(ruleset.version, Outcome.REJECT, hard_reasons, score, results)
    if rejects or score >= ruleset.reject_at:
        return Evaluation(ruleset.version, Outcome.REJECT, unique(rejects or scored), score, results)
    if hard_outcome is Outcome.REVIEW or reviews or score >= ruleset.review_at:
        return Evaluation(
            ruleset.version,
            Outcome.REVIEW,
            unique(hard_reasons + reviews + (scored if score >= ruleset.review_at else [])),
            score,
            results,
        )
    return Evaluation(ruleset.version, Outcome.APPROVE, [], score, results)
