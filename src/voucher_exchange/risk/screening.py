"""Screening rules the pipeline needs, as pure functions over plain values.

Two stages: `screen_submission` before any outside call (seller, brand, limits,
declared channel) and `screen_issuer_answer` once the issuer has spoken. The
carrier-billing rule is code, not configuration: nothing here reads a setting for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.ports.issuer import VoucherState, VoucherStatus
from voucher_exchange.risk.models import AcquisitionMethod

RULESET_VERSION = "screening-1"


class Outcome(StrEnum):
    """What screening decided."""

    APPROVE = "approve"
    """Go on."""
    REVIEW = "review"
    """Hold for a person."""
    REJECT = "reject"
    """Refuse with reasons."""


@dataclass(frozen=True)
class Decision:
    """An outcome, its reason codes, and the facts it was based on."""

    outcome: Outcome
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    """A KYC tier's caps, in minor units of the deployment currency."""

    daily: int
    monthly: int


# Jurisdiction packs: adult age and limits per KYC tier (docs/risk.md).
ADULT_AGE = {"KR": 19, "US": 18}
TIER_LIMITS: dict[str, dict[int, Limits]] = {
    "KR": {0: Limits(0, 0), 1: Limits(1_000_000, 3_000_000), 2: Limits(5_000_000, 20_000_000)},
    "US": {0: Limits(0, 0), 1: Limits(100_000, 300_000), 2: Limits(500_000, 2_000_000)},
}


def age_on(birth_date: date, today: date) -> int:
    """Completed years of age on `today`."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


def is_adult(birth_date: date, today: date, jurisdiction: str) -> bool:
    """True when old enough to sell in this jurisdiction."""
    return age_on(birth_date, today) >= ADULT_AGE[jurisdiction]


@dataclass(frozen=True)
class SubmissionFacts:
    """Everything the first screening stage looks at, gathered by the service."""

    declared_method: AcquisitionMethod
    brand_status: BrandStatus
    kyc_tier: int
    identity_status: str  # none | verified | underage | failed
    destination_status: str  # verified | rejected | unconfirmed | refused (by the bank, after a transfer)
    holder_is_seller: bool  # the account holder's name is the seller's current verified legal name
    face_value: int
    used_today: int
    used_this_month: int
    limits: Limits


def screen_submission(facts: SubmissionFacts) -> Decision:
    """Rules that need no outside call, hardest first; the first refusal wins."""
    evidence: dict[str, Any] = {
        "declared_method": facts.declared_method.value,
        "brand_status": facts.brand_status.value,
        "kyc_tier": facts.kyc_tier,
        "face_value": facts.face_value,
        "used_today": facts.used_today,
        "used_this_month": facts.used_this_month,
        "daily_limit": facts.limits.daily,
        "monthly_limit": facts.limits.monthly,
    }

    def reject(code: str) -> Decision:
        return Decision(Outcome.REJECT, [code], evidence)

    if facts.declared_method is AcquisitionMethod.CARRIER_BILLING:
        return reject("carrier_billing_prohibited")
    if facts.brand_status is BrandStatus.SUSPENDED:
        return reject("brand_suspended")
    if facts.brand_status is BrandStatus.PAUSED:
        return reject("brand_paused")
    if facts.identity_status == "underage":
        return reject("underage")
    if facts.identity_status != "verified" or facts.kyc_tier < 1:
        return reject("kyc_required")
    # A trade sold before the bank refused the account goes on: its payout meets the bank again.
    if facts.destination_status not in ("verified", "refused") or not facts.holder_is_seller:
        return reject("payout_destination_mismatch")
    if (
        facts.used_today + facts.face_value > facts.limits.daily
        or facts.used_this_month + facts.face_value > facts.limits.monthly
    ):
        return reject("limit_exceeded")
    return Decision(Outcome.APPROVE, [], evidence)


_STATE_REASONS = {
    VoucherState.NOT_FOUND: "voucher_invalid",
    VoucherState.REDEEMED: "voucher_already_redeemed",
    VoucherState.EXPIRED: "voucher_expired",
    VoucherState.BLOCKED: "voucher_blocked",
}


def reason_for_state(state: VoucherState) -> str:
    """The reason code for a voucher the issuer will not let us redeem."""
    return _STATE_REASONS[state]


def screen_issuer_answer(
    answer: VoucherStatus, face_value: int, currency: str, declared: AcquisitionMethod
) -> Decision:
    """Rules over the issuer's answer. A reported carrier-billing channel always refuses."""
    evidence: dict[str, Any] = {
        "issuer_state": answer.state.value,
        "issuer_balance": answer.balance,
        "issuer_channel": answer.purchase_channel,
        "issued_at": answer.issued_at.isoformat() if answer.issued_at else None,
        "declared_method": declared.value,
    }
    if answer.purchase_channel == AcquisitionMethod.CARRIER_BILLING.value:
        evidence["false_declaration"] = declared is not AcquisitionMethod.CARRIER_BILLING
        return Decision(Outcome.REJECT, ["carrier_billing_prohibited"], evidence)
    if answer.state is not VoucherState.ACTIVE:
        return Decision(Outcome.REJECT, [reason_for_state(answer.state)], evidence)
    if answer.currency != currency or answer.balance != face_value:
        return Decision(Outcome.REJECT, ["balance_mismatch"], evidence)
    return Decision(Outcome.APPROVE, [], evidence)


JURISDICTION_TZ = {"KR": "Asia/Seoul", "US": "America/New_York"}


def period_starts(now: datetime, jurisdiction: str) -> tuple[datetime, datetime]:
    """UTC instants at which the local day and month began (limits reset at local midnight)."""
    local = now.astimezone(ZoneInfo(JURISDICTION_TZ[jurisdiction]))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    return day.astimezone(UTC), month.astimezone(UTC)


@dataclass(frozen=True)
class RiskPack:
    """A jurisdiction's lines for the risk engine, in minor units of its currency."""

    high_value: int
    cumulative_daily_review: int


RISK_PACKS = {
    "KR": RiskPack(high_value=100_000, cumulative_daily_review=10_000_000),
    "US": RiskPack(high_value=10_000, cumulative_daily_review=1_000_000),
}
