"""The promise's pure rules: the banks' window across midnight, due times, exclusions, compensation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import Money
from voucher_exchange.promises.models import (
    BankWindow,
    Exclusion,
    PromiseTerms,
    checked_terms,
    default_terms,
    judge,
    missed,
    percent_text,
    quoted,
)

SEOUL = "Asia/Seoul"
WINDOW = BankWindow(time(23, 30), time(0, 30), SEOUL)
TERMS = PromiseTerms(10, 10_000, WINDOW)


def kst(hour: int, minute: int, day: int = 7) -> datetime:
    """An instant given in Seoul time (UTC+9), as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (kst(23, 29), False),
        (kst(23, 30), True),
        (kst(23, 59), True),
        (kst(0, 0, day=8), True),
        (kst(0, 29, day=8), True),
        (kst(0, 30, day=8), False),
        (kst(12, 0), False),
    ],
    ids=["23:29", "23:30", "23:59", "00:00", "00:29", "00:30", "noon"],
)
def test_the_window_crosses_midnight_in_seoul_time(at: datetime, inside: bool) -> None:
    assert WINDOW.contains(at) is inside


def test_a_payout_in_the_window_waits_until_it_ends() -> None:
    assert WINDOW.ends_after(kst(23, 45)) == kst(0, 30, day=8)
    assert WINDOW.ends_after(kst(0, 10, day=8)) == kst(0, 30, day=8)
    assert WINDOW.ends_after(kst(12, 0)) == kst(12, 0)


def test_an_empty_window_never_closes_the_banks() -> None:
    off = default_terms(SEOUL, "off").window
    assert not off.contains(kst(23, 45))
    assert not off.overlaps(kst(23, 0), kst(1, 0, day=8))
    assert default_terms(SEOUL).window == WINDOW


@pytest.mark.parametrize(
    ("secured", "excluded"),
    [
        (kst(23, 15), None),
        (kst(23, 21), Exclusion.BANK_WINDOW),
        (kst(23, 40), Exclusion.BANK_WINDOW),
        (kst(0, 25, day=8), Exclusion.BANK_WINDOW),
        (kst(0, 31, day=8), None),
    ],
    ids=["before", "due-inside", "secured-inside", "due-after", "after"],
)
def test_a_promise_due_in_the_window_is_excluded(secured: datetime, excluded: Exclusion | None) -> None:
    promise = judge(TERMS, "t", Money(4500, "KRW"), secured, held_for_review=False)
    assert promise.due_at == secured + timedelta(minutes=10)
    assert promise.excluded_because is excluded
    assert promise.applies is (excluded is None)


def test_a_trade_held_for_review_is_excluded_and_never_missed() -> None:
    promise = judge(TERMS, "t", Money(4500, "KRW"), kst(12, 0), held_for_review=True)
    assert (promise.applies, promise.excluded_because) == (False, Exclusion.REVIEW_HOLD)
    assert not missed(promise, kst(13, 0))


def test_missed_means_handed_to_the_bank_after_the_due_time() -> None:
    promise = judge(TERMS, "t", Money(4500, "KRW"), kst(12, 0), held_for_review=False)
    assert not missed(promise, kst(12, 10))
    assert missed(promise, kst(12, 10) + timedelta(microseconds=1))


def test_compensation_is_the_share_of_the_fee_rounded_up() -> None:
    assert TERMS.compensation(Money(4500, "KRW")) == Money(4500, "KRW")
    half = PromiseTerms(10, 3_333, WINDOW)
    assert half.compensation(Money(4501, "KRW")) == Money(1501, "KRW")  # 1500.18 → 1501
    assert PromiseTerms(10, 0, WINDOW).compensation(Money(4500, "KRW")) == Money(0, "KRW")


def test_a_quote_says_excluded_when_its_latest_due_time_may_fall_in_the_window() -> None:
    fee = Money(4500, "KRW")
    noon = quoted(TERMS, fee, kst(12, 0), kst(12, 15), 30)
    late = quoted(TERMS, fee, kst(23, 10), kst(23, 25), 30)
    assert (noon.excluded_because, noon.compensation, noon.minutes) == (None, fee, 10)
    assert late.excluded_because is Exclusion.BANK_WINDOW


@pytest.mark.parametrize(
    ("minutes", "bps", "start", "end", "field"),
    [
        (0, 10_000, "23:30", "00:30", "minutes"),
        (10, 10_001, "23:30", "00:30", "compensation_bps"),
        (10, 10_000, "25:00", "00:30", "window_start"),
        (10, 10_000, "23:30", "half past", "window_end"),
    ],
    ids=["zero-minutes", "over-100-percent", "bad-start", "bad-end"],
)
def test_terms_out_of_range_are_refused_with_the_field(
    minutes: int, bps: int, start: str, end: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        checked_terms(minutes, bps, start, end, SEOUL)
    assert refused.value.field == field


def test_a_share_in_basis_points_is_written_with_integers_only() -> None:
    written = [percent_text(b) for b in (10000, 2550, 5, 0, 12345)]
    assert written == ["100%", "25.5%", "0.05%", "0%", "123.45%"]
