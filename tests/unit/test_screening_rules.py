"""Screening rules one by one: hit, no hit, boundary. Carrier billing cannot be turned off."""

from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.ports.issuer import VoucherState, VoucherStatus
from voucher_exchange.risk import screening
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.risk.screening import Limits, Outcome, SubmissionFacts, is_adult, screen_submission

CLEAN = SubmissionFacts(
    declared_method=AcquisitionMethod.GIFT,
    brand_status=BrandStatus.ACTIVE,
    kyc_tier=1,
    identity_status="verified",
    destination_status="verified",
    holder_is_seller=True,
    face_value=50000,
    used_today=0,
    used_this_month=0,
    limits=Limits(1_000_000, 3_000_000),
)


def test_a_clean_submission_is_approved() -> None:
    assert screen_submission(CLEAN).outcome is Outcome.APPROVE


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"declared_method": AcquisitionMethod.CARRIER_BILLING}, "carrier_billing_prohibited"),
        ({"brand_status": BrandStatus.SUSPENDED}, "brand_suspended"),
        ({"brand_status": BrandStatus.PAUSED}, "brand_paused"),
        ({"identity_status": "underage", "kyc_tier": 0}, "underage"),
        ({"kyc_tier": 0}, "kyc_required"),
        # A failed or never-made re-check: the tier alone does not let anyone sell.
        ({"identity_status": "failed"}, "kyc_required"),
        ({"identity_status": "none"}, "kyc_required"),
        ({"destination_status": "rejected"}, "payout_destination_mismatch"),
        ({"destination_status": "unconfirmed"}, "payout_destination_mismatch"),
        # Verified once, but the seller's legal name has changed since.
        ({"holder_is_seller": False}, "payout_destination_mismatch"),
        ({"used_today": 950_001}, "limit_exceeded"),
        ({"used_this_month": 2_950_001}, "limit_exceeded"),
    ],
)
def test_each_rule_refuses_with_its_code(change: dict[str, object], code: str) -> None:
    decision = screen_submission(replace(CLEAN, **change))  # type: ignore[arg-type]
    assert (decision.outcome, decision.reasons) == (Outcome.REJECT, [code])


def test_limits_are_inclusive_at_the_boundary() -> None:
    assert screen_submission(replace(CLEAN, used_today=950_000)).outcome is Outcome.APPROVE
    assert screen_submission(replace(CLEAN, used_this_month=2_950_000)).outcome is Outcome.APPROVE


def test_carrier_billing_beats_every_other_reason() -> None:
    worst = replace(
        CLEAN,
        declared_method=AcquisitionMethod.CARRIER_BILLING,
        brand_status=BrandStatus.SUSPENDED,
        kyc_tier=0,
    )
    assert screen_submission(worst).reasons == ["carrier_billing_prohibited"]


def test_the_carrier_billing_rule_reads_no_setting() -> None:
    source = inspect.getsource(screening)
    assert "settings" not in source.lower() and "environ" not in source


def _answer(**kw: object) -> VoucherStatus:
    base: dict[str, object] = {
        "state": VoucherState.ACTIVE, "balance": 50000, "currency": "KRW",
        "issued_at": datetime(2026, 11, 1, tzinfo=UTC), "purchase_channel": "card", "redeemed_by": None,
    }  # fmt: skip
    base.update(kw)
    return VoucherStatus(**base)  # type: ignore[arg-type]


def test_issuer_reported_carrier_billing_refuses_and_marks_a_false_declaration() -> None:
    decision = screening.screen_issuer_answer(
        _answer(purchase_channel="carrier_billing"), 50000, "KRW", AcquisitionMethod.GIFT
    )
    assert decision.reasons == ["carrier_billing_prohibited"]
    assert decision.evidence["false_declaration"] is True


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"state": VoucherState.NOT_FOUND, "balance": 0}, "voucher_invalid"),
        ({"state": VoucherState.REDEEMED, "balance": 0}, "voucher_already_redeemed"),
        ({"state": VoucherState.EXPIRED}, "voucher_expired"),
        ({"state": VoucherState.BLOCKED}, "voucher_blocked"),
        ({"balance": 49999}, "balance_mismatch"),
        ({"balance": 50001}, "balance_mismatch"),
        ({"currency": "USD"}, "balance_mismatch"),
    ],
)
def test_issuer_answers(answer: dict[str, object], code: str) -> None:
    decision = screening.screen_issuer_answer(_answer(**answer), 50000, "KRW", AcquisitionMethod.CARD)
    assert decision.reasons == [code]


def test_adulthood_turns_on_the_birthday() -> None:
    born = date(2007, 11, 28)
    assert not is_adult(born, date(2026, 11, 27), "KR")
    assert is_adult(born, date(2026, 11, 28), "KR")
    assert is_adult(date(2008, 11, 27), date(2026, 11, 27), "US")
