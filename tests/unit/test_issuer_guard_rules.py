"""The issuer guard's pure parts: each signal from plain numbers, each rule and action, the wording."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.errors import InvalidInput
from voucher_exchange.issuers import models
from voucher_exchange.issuers.models import (
    Action,
    ActionKind,
    BrandChange,
    Rule,
    Signal,
)
from voucher_exchange.issuers.views import BrandGuard, both_languages, status_reason

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _rule(
    rule_id: int,
    signal: Signal,
    threshold: int,
    action: ActionKind,
    amount: int | None = None,
    issuer: str | None = None,
    enabled: bool = True,
) -> Rule:
    return Rule(rule_id, issuer, signal, threshold, action, amount, enabled, NOW, "op@example.com")


def _action(
    action_id: int,
    rule_id: int,
    kind: ActionKind,
    signal: Signal,
    amount: int | None = None,
    lifted: bool = False,
    rearmed: bool = False,
    slugs: tuple[str, ...] = ("happymoney",),
) -> Action:
    return Action(
        action_id,
        "happymoney",
        rule_id,
        kind,
        amount,
        signal,
        5,
        3,
        tuple(BrandChange(s, "active") for s in slugs),
        NOW,
        NOW if lifted else None,
        "op@example.com" if lifted else None,
        NOW if rearmed else None,
    )


# ---- one test per signal -------------------------------------------------------------------


def test_failure_and_timeout_surges_count_above_the_normal_hour() -> None:
    # 7 days × 24 h = 168 baseline hours: 170 failures is a normal of 2 an hour (rounded up).
    assert models.surge(last_hour=9, baseline_count=170) == 7
    assert models.surge(last_hour=2, baseline_count=170) == 0
    assert models.surge(last_hour=4, baseline_count=0) == 4
    assert models.surge(last_hour=0, baseline_count=336) == -2


def test_settlement_shortfall_is_the_unsettled_share_in_bps() -> None:
    assert models.shortfall_bps(expected=95_000, settled=85_500) == 1000
    assert models.shortfall_bps(expected=95_000, settled=95_000) == 0
    assert models.shortfall_bps(expected=95_000, settled=99_000) == 0  # overpaid is not negative
    assert models.shortfall_bps(expected=0, settled=0) is None
    assert models.shortfall_bps(expected=3, settled=2) == 3333  # rounded down


def test_settlement_delay_is_days_since_the_oldest_uncovered_redemption() -> None:
    today = date(2026, 12, 7)
    assert models.delay_days(date(2026, 12, 3), today) == 4
    assert models.delay_days(today, today) == 0
    assert models.delay_days(None, today) == 0


def test_exposure_is_a_percentage_of_the_limit() -> None:
    assert models.exposure_pct(950_000, 1_000_000) == 95
    assert models.exposure_pct(1_500_000, 1_000_000) == 150
    assert models.exposure_pct(-10, 1_000_000) == 0
    assert models.exposure_pct(950_000, None) is None


def test_unregistered_is_one_only_when_known_unregistered() -> None:
    assert models.unregistered(models.RegistrationStatus.UNREGISTERED) == 1
    assert models.unregistered(models.RegistrationStatus.REGISTERED) == 0
    assert models.unregistered(models.RegistrationStatus.UNKNOWN) == 0


def test_insurance_lapses_the_day_after_its_expiry_date() -> None:
    assert models.insurance_lapsed_days(date(2026, 12, 7), date(2026, 12, 7)) == 0
    assert models.insurance_lapsed_days(date(2026, 12, 6), date(2026, 12, 7)) == 1
    assert models.insurance_lapsed_days(date(2027, 1, 6), date(2026, 12, 7)) == -30
    assert models.insurance_lapsed_days(None, date(2026, 12, 7)) is None


# ---- rules -------------------------------------------------------------------------------------


SIGNALS: dict[Signal, int | None] = {
    Signal.FAILURE_SURGE: 7,
    Signal.TIMEOUT_SURGE: 0,
    Signal.SETTLEMENT_SHORTFALL_BPS: 1000,
    Signal.SETTLEMENT_DELAY_DAYS: 1,
    Signal.EXPOSURE_PCT: None,
    Signal.UNREGISTERED: 1,
    Signal.INSURANCE_LAPSED_DAYS: None,
}


@pytest.mark.parametrize(
    ("signal", "threshold", "fires"),
    [
        (Signal.FAILURE_SURGE, 5, True),
        (Signal.FAILURE_SURGE, 8, False),
        (Signal.TIMEOUT_SURGE, 1, False),
        (Signal.SETTLEMENT_SHORTFALL_BPS, 1000, True),
        (Signal.SETTLEMENT_DELAY_DAYS, 2, False),
        (Signal.EXPOSURE_PCT, 0, False),  # unknown never fires, whatever the threshold
        (Signal.UNREGISTERED, 1, True),
        (Signal.INSURANCE_LAPSED_DAYS, -1000, False),
    ],
    ids=str,
)
def test_a_rule_fires_at_or_past_its_threshold_on_a_known_signal(
    signal: Signal, threshold: int, fires: bool
) -> None:
    rule = _rule(1, signal, threshold, ActionKind.PAUSE_QUOTES)
    due = models.due("happymoney", SIGNALS, [rule], held=set())
    assert [(f.rule.id, f.observed) for f in due] == ([(1, SIGNALS[signal])] if fires else [])


def test_rules_of_another_issuer_disabled_or_held_do_not_fire() -> None:
    rules = [
        _rule(1, Signal.FAILURE_SURGE, 5, ActionKind.LOWER_RATE, 200, issuer="cultureland"),
        _rule(2, Signal.FAILURE_SURGE, 5, ActionKind.LOWER_RATE, 200, enabled=False),
        _rule(3, Signal.FAILURE_SURGE, 5, ActionKind.LOWER_RATE, 200),
        _rule(4, Signal.FAILURE_SURGE, 5, ActionKind.CAP_DAILY_VOLUME, 1_000_000, issuer="happymoney"),
    ]
    assert [f.rule.id for f in models.due("happymoney", SIGNALS, rules, held={3})] == [4]
    assert [f.rule.id for f in models.due("happymoney", SIGNALS, rules, held=set())] == [3, 4]


def test_a_lifted_action_rearms_only_once_its_signal_is_normal_again() -> None:
    rule = _rule(1, Signal.FAILURE_SURGE, 5, ActionKind.PAUSE_QUOTES)
    lifted = _action(10, 1, ActionKind.PAUSE_QUOTES, Signal.FAILURE_SURGE, lifted=True)
    standing = _action(11, 1, ActionKind.PAUSE_QUOTES, Signal.FAILURE_SURGE)
    done = _action(12, 1, ActionKind.PAUSE_QUOTES, Signal.FAILURE_SURGE, lifted=True, rearmed=True)
    high = {Signal.FAILURE_SURGE: 7}
    low = {Signal.FAILURE_SURGE: 4}
    assert models.rearming([lifted, standing, done], {1: rule}, high) == []
    assert models.rearming([lifted, standing, done], {1: rule}, low) == [10]
    assert models.rearming([lifted], {1: rule}, {Signal.FAILURE_SURGE: None}) == []


@pytest.mark.parametrize(
    ("signal", "threshold", "action", "amount", "code"),
    [
        ("failure_surge", 5, "lower_rate", None, "guard_amount_required"),
        ("failure_surge", 5, "lower_rate", 10_000, "guard_amount_invalid"),
        ("failure_surge", 5, "cap_daily_volume", 0, "guard_amount_required"),
        ("failure_surge", 5, "pause_quotes", 100, "guard_amount_unexpected"),
        ("rumours", 5, "pause_quotes", None, "guard_signal_unknown"),
        ("failure_surge", 5, "close_shop", None, "guard_action_unknown"),
        ("failure_surge", 10**13, "suspend", None, "guard_threshold_invalid"),
    ],
    ids=[
        "rate-no-amount",
        "rate-too-big",
        "cap-zero",
        "pause-with-amount",
        "bad-signal",
        "bad-action",
        "huge-threshold",
    ],
)
def test_a_bad_rule_is_refused_with_a_stable_code(
    signal: str, threshold: int, action: str, amount: int | None, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        models.check_rule(signal, threshold, action, amount)
    assert refused.value.code == code


# ---- one test per action ------------------------------------------------------------------------


def test_lower_rate_lowers_every_band_and_lifting_raises_it_back() -> None:
    bands = [{"min_face": 0, "rate_bps": 9000}, {"min_face": 50000, "rate_bps": 9100}]
    down = models.lowered(bands, 200)
    assert down == [{"min_face": 0, "rate_bps": 8800}, {"min_face": 50000, "rate_bps": 8900}]
    assert models.raised(down, 200) == bands
    assert models.lowered([{"min_face": 0, "rate_bps": 150}], 200) == [{"min_face": 0, "rate_bps": 1}]


def test_cap_daily_volume_keeps_the_tightest_cap_in_force() -> None:
    caps = [
        _action(1, 1, ActionKind.CAP_DAILY_VOLUME, Signal.FAILURE_SURGE, 2_000_000),
        _action(2, 2, ActionKind.CAP_DAILY_VOLUME, Signal.EXPOSURE_PCT, 500_000),
        _action(3, 3, ActionKind.CAP_DAILY_VOLUME, Signal.EXPOSURE_PCT, 100_000, lifted=True),
        _action(4, 4, ActionKind.PAUSE_QUOTES, Signal.EXPOSURE_PCT),
    ]
    assert models.tightest_cap(caps) == 500_000
    assert models.tightest_cap(caps[2:]) is None


def test_pause_and_suspend_explain_a_stopped_brand_and_only_that() -> None:
    pause = _action(1, 1, ActionKind.PAUSE_QUOTES, Signal.SETTLEMENT_DELAY_DAYS)
    suspend = _action(2, 2, ActionKind.SUSPEND, Signal.UNREGISTERED)
    rate = _action(3, 3, ActionKind.LOWER_RATE, Signal.FAILURE_SURGE, 200)
    guard = BrandGuard(None, (pause, suspend, rate))
    assert guard.stopping(BrandStatus.PAUSED) is pause
    assert guard.stopping(BrandStatus.SUSPENDED) is suspend
    assert guard.stopping(BrandStatus.ACTIVE) is None
    assert BrandGuard(None, (rate,)).stopping(BrandStatus.PAUSED) is None
    # Paused or suspended by hand: the general words, undated.
    assert status_reason(BrandGuard(None, (rate,)), BrandStatus.SUSPENDED, ZoneInfo("UTC")) == {
        "ko": "발행사의 사정으로 현재 이 상품권은 매입하지 않습니다.",
        "en": "We are not buying this brand at the moment because its issuer is not safe to deal with.",
    }
    assert status_reason(BrandGuard(None, (rate,)), BrandStatus.ACTIVE, ZoneInfo("UTC")) is None


def test_sellers_are_told_why_in_plain_korean_and_english_with_the_local_date() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    late = Action(
        1,
        "happymoney",
        1,
        ActionKind.PAUSE_QUOTES,
        None,
        Signal.SETTLEMENT_DELAY_DAYS,
        3,
        2,
        (BrandChange("happymoney", "active"),),
        datetime(2026, 12, 6, 16, 30, tzinfo=UTC),
        None,
        None,
    )
    # 16:30 UTC on the 6th is the 7th in Seoul.
    assert status_reason(BrandGuard(None, (late,)), BrandStatus.PAUSED, seoul) == {
        "ko": "발행사 정산 지연으로 매입을 일시 중지했습니다 (2026-12-07).",
        "en": "We paused buying on 2026-12-07 because the issuer is late settling.",
    }
    lowered = Action(
        2,
        "happymoney",
        2,
        ActionKind.LOWER_RATE,
        150,
        Signal.FAILURE_SURGE,
        7,
        5,
        (BrandChange("happymoney", "rate_version:1"),),
        NOW,
        None,
        None,
    )
    assert both_languages(lowered, seoul) == {
        "ko": "발행사 시스템 장애로 매입 시세를 1.5%p 낮췄습니다 (2026-12-07).",
        "en": "We lowered our rate by 1.5 percentage points on 2026-12-07 "
        "because the issuer's systems are failing.",
    }


def test_every_signal_and_action_has_words() -> None:
    assert set(models.CAUSES) == set(Signal)
    assert set(models.SENTENCES) == set(ActionKind)
    assert [models.points(b) for b in (100, 150, 205, 50)] == ["1", "1.5", "2.05", "0.5"]
