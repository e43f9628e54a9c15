"""The transparency report's pure rules: periods, and what the disclosure rule lets through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voucher_exchange.errors import InvalidInput
from voucher_exchange.transparency.models import Disclosure, Flow, Percentiles, last_days, month_period

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
RULE = Disclosure()


def test_the_last_30_days_are_whole_local_days_ending_at_the_start_of_today() -> None:
    period = last_days(NOW, "Asia/Seoul")
    assert (period.start, period.end) == (
        datetime(2026, 11, 6, 15, tzinfo=UTC),
        datetime(2026, 12, 6, 15, tzinfo=UTC),
    )
    assert period.month is None and not period.complete


def test_a_month_is_local_and_the_current_one_runs_to_the_start_of_today() -> None:
    november = month_period("2026-11", NOW, "Asia/Seoul")
    assert (november.start, november.end) == (
        datetime(2026, 10, 31, 15, tzinfo=UTC),
        datetime(2026, 11, 30, 15, tzinfo=UTC),
    )
    assert november.complete and november.month == "2026-11"
    december = month_period("2026-12", NOW, "Asia/Seoul")
    assert (december.start, december.end, december.complete) == (
        datetime(2026, 11, 30, 15, tzinfo=UTC),
        datetime(2026, 12, 6, 15, tzinfo=UTC),
        False,
    )
    january = month_period("2026-01", NOW, "America/New_York")
    assert (january.start, january.end) == (
        datetime(2026, 1, 1, 5, tzinfo=UTC),
        datetime(2026, 2, 1, 5, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-00", "26-11", "2026-1", "2026/11", "1999-12", "0001-01", "9999-12", "", " 2026-11x"],
)
def test_a_malformed_month_is_refused_with_a_stable_code(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        month_period(text, NOW, "Asia/Seoul")
    assert (refused.value.code, refused.value.status, refused.value.field) == (
        "transparency_month_invalid",
        422,
        "month",
    )


def test_a_month_not_begun_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        month_period("2027-01", NOW, "Asia/Seoul")
    assert refused.value.code == "transparency_month_future"


@pytest.mark.parametrize(
    ("n", "shown"),
    [(0, 0), (1, None), (9, None), (10, 10), (12, 10), (13, 15), (17, 15), (18, 20), (1234, 1235)],
)
def test_counts_below_ten_are_hidden_and_the_rest_rounded_to_five(n: int, shown: int | None) -> None:
    assert RULE.count(n) == shown


def test_money_is_shown_only_from_ten_transfers_and_rounded_to_ten_thousand_won() -> None:
    assert RULE.money(Flow(9, 900_000), "KRW") is None
    assert RULE.money(Flow(0, 0), "KRW") == {"amount": 0, "currency": "KRW"}
    assert RULE.money(Flow(10, 454_999), "KRW") == {"amount": 450_000, "currency": "KRW"}
    assert RULE.money(Flow(10, 455_000), "KRW") == {"amount": 460_000, "currency": "KRW"}
    assert RULE.money(Flow(10, 123_456), "USD") == {"amount": 120_000, "currency": "USD"}


def test_times_and_shares_need_ten_events() -> None:
    assert RULE.seconds(Percentiles(9, 30.0), 30.0) is None
    assert RULE.seconds(Percentiles(10, 30.4), 30.4) == 30
    assert RULE.seconds(Percentiles(10, 30.5), 30.5) == 31
    assert RULE.share(3, 100) is None  # three held people are too few to show, even as a share
    assert RULE.share(0, 100) == 0.0
    assert RULE.share(10, 9) is None
    assert RULE.share(10, 80) == 0.13  # 12.5% rounds half up
    assert RULE.share(12, 100) == 0.12


def test_rare_refusal_reasons_fold_into_other() -> None:
    folded = RULE.by_reason({"voucher_expired": 12, "velocity": 4, "balance_mismatch": 3, "other": 2})
    assert folded == {"other": None, "voucher_expired": 10}
    assert RULE.by_reason({"voucher_expired": 30, "velocity": 6, "balance_mismatch": 5}) == {
        "other": 10,
        "voucher_expired": 30,
    }
    assert RULE.by_reason({}) == {}
