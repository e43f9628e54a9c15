"""The business profile's checks and diff, and which consents a sign-up must carry (pure)."""

from __future__ import annotations

import pytest

from voucher_exchange.errors import InvalidInput
from voucher_exchange.trust.models import (
    DEMO_PROFILE,
    ConsentDocument,
    ConsentKind,
    accept,
    changes,
    checked_profile,
)

VALID = {**DEMO_PROFILE.as_fields(), "business_name": "(주)믿음상품권"}
CURRENT = {
    kind: ConsentDocument(kind, n, kind.value, "text", None, None) for n, kind in enumerate(ConsentKind, 3)
}


def test_a_checked_profile_is_not_demo_and_its_diff_names_each_changed_field() -> None:
    saved = checked_profile({**VALID, "support_phone": " 02-555-0199 "})
    assert saved.is_demo is False
    assert saved.support_phone == "02-555-0199"
    assert changes(DEMO_PROFILE, saved) == {
        "business_name": {"before": "(주)바우처익스체인지 데모", "after": "(주)믿음상품권"},
        "support_phone": {"before": "1588-0000", "after": "02-555-0199"},
    }
    assert saved.phone_link == "tel:025550199"
    assert "demo" not in saved.issuer_block() and DEMO_PROFILE.issuer_block()["demo"] is True


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"representative": "  "}, "profile_field_required", "representative"),
        ({"support_email": "help"}, "profile_email_invalid", "support_email"),
        ({"kakao_channel_url": "http://pf.kakao.com/x"}, "profile_link_invalid", "kakao_channel_url"),
        ({"support_phone": "call us"}, "profile_phone_invalid", "support_phone"),
        ({"address": "x" * 201}, "profile_field_too_long", "address"),
    ],
)
def test_a_profile_with_a_bad_field_is_refused_naming_it(
    change: dict[str, str], code: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        checked_profile({**VALID, **change})
    assert (refused.value.code, refused.value.field) == (code, field)


def test_the_kakao_channel_is_the_only_optional_field() -> None:
    assert checked_profile({**VALID, "kakao_channel_url": ""}).kakao_channel_url == ""


def test_sign_up_accepts_the_current_versions_of_what_was_ticked() -> None:
    both = accept(CURRENT, {ConsentKind.TERMS, ConsentKind.PRIVACY}, "web")
    assert (both.versions, both.channel) == ({ConsentKind.TERMS: 3, ConsentKind.PRIVACY: 4}, "web")
    everything = accept(CURRENT, set(ConsentKind), "api")
    assert everything.versions == {ConsentKind.TERMS: 3, ConsentKind.PRIVACY: 4, ConsentKind.MARKETING: 5}


@pytest.mark.parametrize(
    ("ticked", "field"),
    [
        (set(), "consent_terms"),
        ({ConsentKind.TERMS, ConsentKind.MARKETING}, "consent_privacy"),
        ({ConsentKind.PRIVACY}, "consent_terms"),
    ],
)
def test_sign_up_without_a_required_consent_is_refused(ticked: set[ConsentKind], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        accept(CURRENT, ticked, "web")
    assert (refused.value.code, refused.value.field) == ("consent_required", field)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("1234567891", "123-45-67891"), ("220-81-62517", "220-81-62517"), (" 220 81 62517 ", "220-81-62517")],
    ids=["digits-only", "dashed", "spaced"],
)
def test_a_valid_business_registration_number_is_kept_in_its_usual_form(typed: str, kept: str) -> None:
    assert checked_profile({**VALID, "registration_number": typed}).registration_number == kept


@pytest.mark.parametrize(
    "typed",
    ["123-45-6789", "123-45-67890", "12345678901", "123-45-6789O"],
    ids=["nine", "check", "eleven", "letter"],
)
def test_a_business_registration_number_that_does_not_add_up_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        checked_profile({**VALID, "registration_number": typed})
    assert (refused.value.code, refused.value.field) == ("registration_number_invalid", "registration_number")
    # Another jurisdiction's numbers are not Korean ones.
    assert checked_profile({**VALID, "registration_number": typed}, "US").registration_number == typed
