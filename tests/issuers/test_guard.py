"""The issuer guard end to end on both databases: the sandbox issuer over real HTTP made slow and
failing for a stretch, then short on its statement; the rules lower the rate, then pause new quotes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.core import Core
from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.db.schema import issuer_call_failures, jobs, quotes
from voucher_exchange.errors import Conflict, ExternalUnavailable
from voucher_exchange.issuers import guard, views
from voucher_exchange.issuers import repository as issuer_repo
from voucher_exchange.issuers.models import EVALUATE_NOW, MAIL_ACTION, ActionKind, Signal
from voucher_exchange.issuers.signals import measure
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quote_service
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.reconcile.daily import Statement
from voucher_exchange.reconcile.statements import Source
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo

pytestmark = [pytest.mark.both_backends, pytest.mark.fresh_sandbox]  # the issuer's behaviour is global

OPERATOR = "ops@example.com"
SEOUL = ZoneInfo("Asia/Seoul")


def _behave(core: Core, **behavior: Any) -> None:
    response = httpx.post(f"{core.sandbox_url}/issuer/behavior", json=behavior, timeout=10)
    assert response.status_code == 200, response.text


def _statement(core: Core, day: date) -> str:
    response = httpx.get(
        f"{core.sandbox_url}/issuer/statements", params={"date": day.isoformat()}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.text


def _bands(core: Core, slug: str) -> list[tuple[int, int]]:
    with core.ctx.uow(readonly=True) as uow:
        brand = catalog.require_brand(uow.conn, slug)
    return [(b.min_face, b.rate_bps) for b in brand.rates.bands]


def _status(core: Core, slug: str) -> BrandStatus:
    with core.ctx.uow(readonly=True) as uow:
        return catalog.require_brand(uow.conn, slug).status


def _audit(core: Core) -> list[tuple[str, str, str]]:
    with core.ctx.uow(readonly=True) as uow:
        rows = audit.recent(uow.conn, 100)
    return [(r.actor, r.action, r.subject) for r in reversed(rows)]


def _jobs(core: Core, kind: str) -> list[str]:
    with core.ctx.uow(readonly=True) as uow:
        return sorted(uow.conn.execute(select(jobs.c.ref).where(jobs.c.kind == kind)).scalars())


def _count(core: Core, table: Any) -> int:
    with core.ctx.uow(readonly=True) as uow:
        return int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_failing_then_short_paying_issuer_lowers_the_rate_then_pauses_its_brand(core: Core) -> None:
    ctx = core.ctx
    core.fund(1_000_000, "seed")
    guard.save_facts(
        ctx,
        "cultureland",
        name="한국문화진흥",
        registration_status="registered",
        registration_number="2009-12",
        insurance_expires_on=date(2027, 6, 30),
        exposure_limit=200_000,
        actor=OPERATOR,
    )
    rate_rule = guard.add_rule(ctx, "cultureland", "failure_surge", 3, "lower_rate", 200, OPERATOR)
    pause_rule = guard.add_rule(ctx, None, "settlement_shortfall_bps", 500, "pause_quotes", None, OPERATOR)
    assert _bands(core, "cultureland") == [(0, 9000), (50000, 9100)]

    # A stretch of 30 minutes in which every look-up is slow and fails: three trades fail verification.
    _behave(
        core, latency_ms=100, failure="failing", until=(datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    )
    trades = []
    for face in (50000, 30000, 10000):
        user, destination, _ = core.seller()
        trades.append(core.submit(user, destination, face))
    for trade_id in trades:
        with pytest.raises(ExternalUnavailable):
            pipeline.process_trade(ctx, trade_id)
    assert _count(core, issuer_call_failures) == 3

    first = guard.evaluate(ctx)

    assert len(first.taken) == 1
    assert _bands(core, "cultureland") == [(0, 8800), (50000, 8900)]
    assert _bands(core, "booknlife") == [(0, 8900)]  # another issuer: untouched
    user, _, _ = core.seller()
    with ctx.uow() as uow:
        quote = quote_service.create_quote(
            uow.conn, ctx.settings, ctx.clock, user, "cultureland", Money(10000, "KRW")
        )
        uow.commit()
    assert (quote.rate_bps, quote.payout) == (8800, Money(8800, "KRW"))
    # Evaluating again changes nothing while the action stands.
    assert guard.evaluate(ctx).taken == []
    assert _bands(core, "cultureland") == [(0, 8800), (50000, 8900)]

    # The issuer recovers; the trades go through at the rates they were quoted.
    _behave(core)
    for trade_id in trades:
        pipeline.process_trade(ctx, trade_id)
    with ctx.uow(readonly=True) as uow:
        assert [trade_repo.get(uow.conn, t).status.value for t in trades] == ["paid"] * 3  # type: ignore[union-attr]
    assert guard.evaluate(ctx) == guard.Evaluation(
        [], {"booknlife": 0, "cultureland": 90_000, "google": 0, "happymoney": 0, "lotte": 0, "shinsegae": 0}
    )

    # Its settlement file pays 10% short: the statement import asks the guard, which pauses the brand.
    _behave(core, statement_short_bps=1000)
    today = ctx.clock.now().astimezone(UTC).date()
    statement = Statement(Source.ISSUER, today, "issuer.csv", _statement(core, today))
    reconcile_service.reconcile_statement(ctx, statement, timedelta(minutes=15), OPERATOR)
    assert _jobs(core, EVALUATE_NOW) == ["statement"]
    with ctx.uow(readonly=True) as uow:
        facts = issuer_repo.get(uow.conn, "cultureland")
        assert facts is not None
        seen = measure(
            uow.conn, facts, guard.brands_of(uow.conn, "cultureland", "KRW"), "KRW", ctx.clock.now()
        )
    assert (seen.expected_7d, seen.settled_7d) == (90_000, 81_000)
    assert seen.signals[Signal.SETTLEMENT_SHORTFALL_BPS] == 1000
    assert seen.exposure == 9_000

    guard.evaluate_job(ctx, "statement")

    assert _status(core, "cultureland") is BrandStatus.PAUSED
    quotes_before = _count(core, quotes)
    with ctx.uow() as uow, pytest.raises(Conflict) as refused:
        quote_service.create_quote(
            uow.conn, ctx.settings, ctx.clock, user, "cultureland", Money(10000, "KRW")
        )
    assert refused.value.code == "brand_paused"
    assert _count(core, quotes) == quotes_before

    # The brand page tells why, in both languages.
    with ctx.uow(readonly=True) as uow:
        brands = catalog.list_brands(uow.conn, "KRW")
        guards = views.brand_guards(uow.conn, brands)
        points = issuer_repo.exposure_points(uow.conn, "cultureland", today)
        in_force = issuer_repo.in_force(uow.conn, "cultureland")
    local_day = ctx.clock.now().astimezone(SEOUL).date().isoformat()
    assert views.status_reason(guards["cultureland"], BrandStatus.PAUSED, SEOUL) == {
        "ko": f"발행사 정산 금액 부족으로 매입을 일시 중지했습니다 ({local_day}).",
        "en": f"We paused buying on {local_day} because the issuer settled less than it owes.",
    }
    cultureland = next(b for b in brands if b.slug == "cultureland")
    assert views.issuer_json(cultureland, guards["cultureland"]) == {
        "name": "한국문화진흥",
        "registration": {"status": "registered", "number": "2009-12"},
    }
    # Exposure against the limit: 90,000 redeemed at the peak, 9,000 left unsettled.
    assert [(p["day"], p["exposure"], p["peak"], p["limit_amount"]) for p in points] == [
        (today, 9_000, 90_000, 200_000)
    ]
    assert [(a.action, a.rule_id, a.signal, a.observed) for a in in_force] == [
        (ActionKind.LOWER_RATE, rate_rule, Signal.FAILURE_SURGE, 3),
        (ActionKind.PAUSE_QUOTES, pause_rule, Signal.SETTLEMENT_SHORTFALL_BPS, 1000),
    ]
    assert _jobs(core, MAIL_ACTION) == sorted(f"started:{a.id}" for a in in_force)

    # The operator lifts the pause: the brand is bought again, and the rule waits for a normal
    # statement before it may pause again.
    pause = in_force[1]
    guard.lift_action(ctx, pause.id, OPERATOR)
    assert _status(core, "cultureland") is BrandStatus.ACTIVE
    assert guard.evaluate(ctx).taken == []
    assert _status(core, "cultureland") is BrandStatus.ACTIVE
    with pytest.raises(Conflict) as twice:
        guard.lift_action(ctx, pause.id, OPERATOR)
    assert twice.value.code == "guard_action_lifted"

    # Every step is in the audit log, in order.
    guarded = [e for e in _audit(core) if e[1].startswith(("issuer.", "brand."))]
    assert guarded == [
        (OPERATOR, "issuer.facts", "cultureland"),
        (OPERATOR, "issuer.rule_added", "cultureland"),
        (OPERATOR, "issuer.rule_added", "*"),
        ("issuer-guard", "brand.rates", "cultureland"),
        ("issuer-guard", "issuer.action", "cultureland"),
        ("issuer-guard", "brand.status", "cultureland"),
        ("issuer-guard", "issuer.action", "cultureland"),
        (OPERATOR, "brand.status", "cultureland"),
        (OPERATOR, "issuer.action_lifted", "cultureland"),
    ]
    with ctx.uow(readonly=True) as uow:
        assert reconcile_service.verify(uow.conn).ok
        pauses = views.issuer_pauses(
            uow.conn, ctx.clock.now() - timedelta(days=1), ctx.clock.now(), ZoneInfo("Asia/Seoul")
        )
    assert [(p["issuer"], p["brands"], p["action"], p["reason"], p["to"] is not None) for p in pauses] == [
        ("cultureland", ["cultureland"], "pause_quotes", "settlement_shortfall_bps", True)
    ]
