"""Money, fee rounding, code formats and rate bands."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voucher_exchange.catalog.models import CodeFormat, FaceValues, RateBand, RateSchedule, luhn_valid
from voucher_exchange.catalog.service import default_catalog
from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import Money, fee_for
from voucher_exchange.risk.screening import period_starts


def test_fee_rounds_down_in_the_sellers_favour() -> None:
    assert fee_for(Money(50000, "KRW"), 9100) == Money(4500, "KRW")
    assert fee_for(Money(10001, "KRW"), 9000) == Money(1000, "KRW")  # 1000.1 → 1000
    assert fee_for(Money(999, "USD"), 8300) == Money(169, "USD")  # 169.83 cents → 169


@given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=1, max_value=10_000))
def test_fee_plus_payout_is_always_the_face_value(amount: int, rate: int) -> None:
    face = Money(amount, "KRW")
    fee = fee_for(face, rate)
    payout = face - fee
    assert fee.amount >= 0 and payout.amount > 0
    assert fee + payout == face
    assert payout.amount * 10_000 >= amount * rate  # never less than the exact rate


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [(1.5, "KRW", "amount_invalid"), (10**13, "KRW", "amount_invalid"), (1, "JPY", "currency_unsupported")],
)
def test_money_refuses_what_it_cannot_be(amount: object, currency: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Money(amount, currency)  # type: ignore[arg-type]
    assert refused.value.code == code


def test_money_never_mixes_currencies() -> None:
    with pytest.raises(InvalidInput) as refused:
        Money(1, "KRW") + Money(1, "USD")
    assert refused.value.code == "currency_mismatch"


def test_money_formats_for_people() -> None:
    assert Money(1234567, "KRW").format() == "₩1,234,567"
    assert Money(-2505, "USD").format() == "-$25.05"


@pytest.mark.parametrize("brand", [b["slug"] for b in default_catalog()["brands"]])
def test_every_brand_mints_codes_it_accepts(brand: str) -> None:
    entry = next(b for b in default_catalog()["brands"] if b["slug"] == brand)
    fmt = CodeFormat.from_json(entry["code_format"])
    rng = random.Random(7)
    for _ in range(50):
        code, pin = fmt.generate(rng)
        assert fmt.validate(code.lower() if fmt.alphabet == "alnum" else code, pin) == (code, pin)


def test_luhn_catches_a_mistyped_digit() -> None:
    fmt = CodeFormat(alphabet="digits", length=16, check="luhn")
    code, _ = fmt.generate(random.Random(1))
    assert luhn_valid(code)
    typo = code[:-2] + str((int(code[-2]) + 1) % 10) + code[-1]
    with pytest.raises(InvalidInput) as refused:
        fmt.validate(typo, None)
    assert refused.value.code == "voucher_code_format"
    assert typo not in refused.value.message


def test_pins_are_required_exactly_where_the_brand_has_them() -> None:
    with_pin = CodeFormat(alphabet="digits", length=4, pin_length=4)
    with pytest.raises(InvalidInput, match="4-digit PIN"):
        with_pin.validate("1234", None)
    without = CodeFormat(alphabet="digits", length=4)
    with pytest.raises(InvalidInput, match="no PIN"):
        without.validate("1234", "9999")


def test_face_values_as_a_list_or_a_range() -> None:
    listed = FaceValues.from_json([10000, 5000])
    assert (listed.permits(5000), listed.permits(7000)) == (True, False)
    ranged = FaceValues.from_json({"min": 1000, "max": 50000, "step": 100})
    assert [ranged.permits(v) for v in (900, 1000, 1050, 1100, 50000, 50100)] == [
        False, True, False, True, True, False,
    ]  # fmt: skip


def test_rate_bands_apply_from_their_face_value_up() -> None:
    schedule = RateSchedule(3, (RateBand(0, 9000), RateBand(50000, 9100)))
    assert [schedule.rate_for(v) for v in (5000, 49999, 50000, 100000)] == [9000, 9000, 9100, 9100]
    with pytest.raises(InvalidInput):
        RateSchedule(1, (RateBand(100, 9000),))
    with pytest.raises(InvalidInput):
        RateSchedule(1, (RateBand(0, 0),))


def test_the_catalog_has_the_contracts_brands() -> None:
    brands = {b["slug"]: b for b in default_catalog()["brands"]}
    assert brands["happymoney"]["status"] == "suspended"
    assert {b["currency"] for b in brands.values()} == {"KRW", "USD"}
    for b in brands.values():
        for band in b["rates"]:
            assert 8000 <= band["rate_bps"] <= 9300


def test_period_starts_use_local_midnight() -> None:
    day, month = period_starts(datetime(2026, 11, 27, 16, 0, tzinfo=UTC), "KR")  # 01:00 on the 28th in Seoul
    assert day == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert month == datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
