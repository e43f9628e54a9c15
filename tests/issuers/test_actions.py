"""Each issuer guard signal and action against a real database: the cap, the suspension, the
delay, timeouts against the normal hour, and the exposure limit; lifting undoes each."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.support.core import Core
from tests.support.exchange import ShiftableClock
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import Role
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.db.schema import quotes
from voucher_exchange.errors import Conflict, ExternalTimedOut, ExternalUnavailable
from voucher_exchange.issuers import guard, health, views
from voucher_exchange.issuers import repository as issuer_repo
from voucher_exchange.issuers.mail import mail_action
from voucher_exchange.issuers.models import CallOutcome, Signal
from voucher_exchange.issuers.signals import measure
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quote_service
from voucher_exchange.trades import pipeline

pytestmark = pytest.mark.both_backends

OPERATOR = "ops@example.com"
SEOUL = ZoneInfo("Asia/Seoul")


def _facts(core: Core, **facts: Any) -> None:
    values: dict[str, Any] = {
        "name": "한국문화진흥", "registration_status": "registered", "registration_number": None,
        "insurance_expires_on": None, "exposure_limit": None,
    }  # fmt: skip
    guard.save_facts(core.ctx, "cultureland", **{**values, **facts}, actor=OPERATOR)


def _quote(core: Core, face: int) -> None:
    user, _, _ = core.seller()
    with core.ctx.uow() as uow:
        quote_service.create_quote(
            uow.conn, core.ctx.settings, core.ctx.clock, user, "cultureland", Money(face, "KRW")
        )
        uow.commit()


def _refused(core: Core, face: int) -> str:
    user, _, _ = core.seller()
    with core.ctx.uow(readonly=True) as uow:
        before = uow.conn.execute(select(func.count()).select_from(quotes)).scalar_one()
    with core.ctx.uow() as uow, pytest.raises(Conflict) as refused:
        quote_service.create_quote(
            uow.conn, core.ctx.settings, core.ctx.clock, user, "cultureland", Money(face, "KRW")
        )
    with core.ctx.uow(readonly=True) as uow:
        assert (
            uow.conn.execute(select(func.count()).select_from(quotes)).scalar_one() == before
        )  # nothing stored
    return refused.value.code


def _sell(core: Core, face: int) -> None:
    user, destination, _ = core.seller()
    pipeline.process_trade(core.ctx, core.submit(user, destination, face))


def _brand(core: Core) -> Any:
    with core.ctx.uow(readonly=True) as uow:
        return catalog.require_brand(uow.conn, "cultureland")


def _signals(core: Core) -> dict[Signal, int | None]:
    with core.ctx.uow(readonly=True) as uow:
        facts = issuer_repo.get(uow.conn, "cultureland")
        assert facts is not None
        brands = guard.brands_of(uow.conn, "cultureland", "KRW")
        return measure(uow.conn, facts, brands, "KRW", core.ctx.clock.now()).signals


def test_exposure_past_the_limit_caps_the_daily_volume_until_lifted(core: Core) -> None:
    core.fund(1_000_000)
    _facts(core, exposure_limit=100_000)
    guard.add_rule(core.ctx, "cultureland", "exposure_pct", 50, "cap_daily_volume", 60_000, OPERATOR)
    _sell(core, 50000)
    assert _signals(core)[Signal.EXPOSURE_PCT] == 50

    [action_id] = guard.evaluate(core.ctx).taken

    assert _brand(core).daily_cap == 60_000
    _quote(core, 10000)  # 50,000 sold today + 10,000 = the cap
    assert _refused(core, 30000) == "brand_daily_cap_reached"
    guard.lift_action(core.ctx, action_id, OPERATOR)
    assert _brand(core).daily_cap is None
    _quote(core, 30000)


def test_lapsed_guarantee_insurance_suspends_the_brand_until_lifted(core: Core) -> None:
    today = core.ctx.clock.now().date()
    _facts(core, insurance_expires_on=today - timedelta(days=2))
    guard.add_rule(core.ctx, None, "insurance_lapsed_days", 1, "suspend", None, OPERATOR)
    assert _signals(core)[Signal.INSURANCE_LAPSED_DAYS] == 2

    [action_id] = guard.evaluate(core.ctx).taken

    assert _brand(core).status is BrandStatus.SUSPENDED
    assert _refused(core, 10000) == "brand_suspended"
    guard.lift_action(core.ctx, action_id, OPERATOR)
    assert _brand(core).status is BrandStatus.ACTIVE


def test_an_unregistered_issuer_is_an_action_too(core: Core) -> None:
    _facts(core, registration_status="unregistered")
    guard.add_rule(core.ctx, "cultureland", "unregistered", 1, "lower_rate", 500, OPERATOR)

    assert len(guard.evaluate(core.ctx).taken) == 1

    assert [(b.min_face, b.rate_bps) for b in _brand(core).rates.bands] == [(0, 8500), (50000, 8600)]


def test_redemptions_no_statement_covers_for_days_pause_the_brand(core: Core) -> None:
    clock = core.ctx.clock
    assert isinstance(clock, ShiftableClock)
    core.fund(1_000_000)
    clock.offset = timedelta(days=-3)
    _sell(core, 10000)  # secured three days ago, and no statement since
    clock.offset = timedelta(0)
    _facts(core)
    guard.add_rule(core.ctx, None, "settlement_delay_days", 2, "pause_quotes", None, OPERATOR)
    assert _signals(core)[Signal.SETTLEMENT_DELAY_DAYS] == 3

    guard.evaluate(core.ctx)

    assert _brand(core).status is BrandStatus.PAUSED
    with core.ctx.uow(readonly=True) as uow:
        brand = catalog.require_brand(uow.conn, "cultureland")
        reason = views.status_reason(
            views.brand_guards(uow.conn, [brand])["cultureland"], brand.status, SEOUL
        )
    day = clock.now().astimezone(SEOUL).date().isoformat()
    assert reason == {
        "ko": f"발행사 정산 지연으로 매입을 일시 중지했습니다 ({day}).",
        "en": f"We paused buying on {day} because the issuer is late settling.",
    }


def test_timeouts_count_against_the_issuers_normal_hour(core: Core) -> None:
    _facts(core)
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        for _ in range(170):  # two days ago: a normal of 2 timeouts an hour over the last 7 days
            issuer_repo.record_failure(
                uow.conn, "cultureland", "lookup", CallOutcome.TIMEOUT, now - timedelta(days=2)
            )
        uow.commit()
    for _ in range(5):
        health.record_failure(core.ctx, "cultureland", "lookup", ExternalTimedOut("no answer in time"))
    health.record_failure(core.ctx, "cultureland", "redeem", ExternalUnavailable("HTTP 503"))
    guard.add_rule(core.ctx, None, "timeout_surge", 3, "pause_quotes", None, OPERATOR)

    signals = _signals(core)

    assert (signals[Signal.TIMEOUT_SURGE], signals[Signal.FAILURE_SURGE]) == (3, 1)
    assert len(guard.evaluate(core.ctx).taken) == 1
    assert _brand(core).status is BrandStatus.PAUSED


class _Outbox:
    """A `Mailer` that keeps what it was asked to send (the port's other implementation is SMTP)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, str]] = []

    def send(self, to: str, subject: str, body: str, language: str) -> None:
        self.sent.append((to, subject, body, language))


def test_every_operator_is_mailed_when_an_action_is_taken_and_lifted(core: Core) -> None:
    with core.ctx.uow() as uow:
        for email, roles, language in [
            ("ops-ko@example.com", {Role.OPERATOR}, "ko"),
            ("ops-en@example.com", {Role.OPERATOR, Role.REVIEWER}, "en"),
            ("reviewer@example.com", {Role.REVIEWER}, "en"),
        ]:
            user = account_service.sign_up(
                uow.conn, email, "correct-horse-battery", core.ctx.clock.now()
            ).user
            account_repo.set_roles(uow.conn, user.id, roles)
            account_repo.set_language(uow.conn, user.id, language)
        uow.commit()
    _facts(core, registration_status="unregistered")
    guard.add_rule(core.ctx, "cultureland", "unregistered", 1, "pause_quotes", None, OPERATOR)
    [action_id] = guard.evaluate(core.ctx).taken
    guard.lift_action(core.ctx, action_id, OPERATOR)
    outbox = _Outbox()
    mailing = replace(core.ctx, mailer=outbox)

    mail_action(mailing, f"started:{action_id}")
    mail_action(mailing, f"lifted:{action_id}")

    day = core.ctx.clock.now().astimezone(SEOUL).date().isoformat()
    assert [(to, subject, language) for to, subject, _, language in outbox.sent] == [
        ("ops-en@example.com", "Issuer guard: action taken on cultureland", "en"),
        ("ops-ko@example.com", "발행사 감시: cultureland 조치 실행", "ko"),
        ("ops-en@example.com", "Issuer guard: action on cultureland lifted", "en"),
        ("ops-ko@example.com", "발행사 감시: cultureland 조치 해제", "ko"),
    ]
    korean_body = outbox.sent[1][2]
    assert korean_body.startswith(
        f"발행사 선불업 미등록으로 매입을 일시 중지했습니다 ({day}).\n\n신호 unregistered: 1 (기준 1)."
    )
    assert outbox.sent[2][2].splitlines()[4] == f"Lifted by {OPERATOR}."
