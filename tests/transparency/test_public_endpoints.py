"""The report over real HTTP: no sign-in, the same document at both addresses, stable 422s, a cache."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import event

from tests.support.core import Core
from tests.support.exchange import Exchange
from voucher_exchange.transparency import service as transparency

PATHS = ["/transparency.json", "/api/v1/transparency.json"]


def test_anyone_gets_the_same_document_at_both_addresses(exchange: Exchange) -> None:
    answers = [httpx.get(exchange.base_url + path, timeout=10) for path in PATHS]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert answers[0].headers["cache-control"] == "public, max-age=300"
    document = answers[0].json()
    today = exchange.clock.now().astimezone(ZoneInfo("Asia/Seoul")).date()
    assert document["period"]["to"] == f"{today - timedelta(days=1)}T15:00:00Z"
    assert document["period"]["from"] == f"{today - timedelta(days=31)}T15:00:00Z"
    assert document["period"]["month"] is None and document["currency"] == "KRW"
    # Nothing of the kind happened in the period: zeros and an empty list, never nulls.
    assert document["promise_misses"] == 0
    assert document["compensation_paid"] == {"amount": 0, "currency": "KRW"}
    assert document["issuer_pauses"] == [] and document["fraud_reports"] == 0
    month = httpx.get(exchange.base_url + "/transparency.json?month=2026-11", timeout=10).json()
    assert month["period"] == {
        "from": "2026-10-31T15:00:00Z",
        "to": "2026-11-30T15:00:00Z",
        "month": "2026-11",
        "complete": True,
    }


@pytest.mark.parametrize("path", PATHS, ids=["root", "api"])
@pytest.mark.parametrize(
    ("month", "code"),
    [
        ("2026-13", "transparency_month_invalid"),
        ("november", "transparency_month_invalid"),
        ("0001-01", "transparency_month_invalid"),
        ("2999-01", "transparency_month_future"),
    ],
    ids=["month-13", "words", "year-1", "future"],
)
def test_a_bad_month_is_a_stable_422_in_json(exchange: Exchange, path: str, month: str, code: str) -> None:
    answer = httpx.get(exchange.base_url + path, params={"month": month}, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["field"] == "month"


def test_an_overlong_month_is_a_422_not_a_500(exchange: Exchange) -> None:
    for path in PATHS:
        answer = httpx.get(exchange.base_url + path, params={"month": "2026-11" * 50}, timeout=10)
        assert answer.status_code == 422 and "error" in answer.json()


def test_the_page_says_why_a_month_is_refused(exchange: Exchange) -> None:
    answer = httpx.get(
        exchange.base_url + "/transparency",
        params={"month": "2026-13"},
        cookies={"vx_lang": "ko"},
        timeout=10,
    )
    assert answer.status_code == 422
    assert "월은 2026-11처럼 YYYY-MM 형식으로 적어 주세요." in answer.text


def test_a_report_is_computed_once_then_served_from_the_cache(core: Core) -> None:
    transparency.CACHE.clear()
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(core.ctx.engine, "before_cursor_execute", count)
    try:
        first = transparency.transparency_report(core.ctx, "2026-11")
        queries = len(statements)
        again = transparency.transparency_report(core.ctx, "2026-11")
        assert again is first and len(statements) == queries > 0
        transparency.transparency_report(core.ctx)  # another period: computed
        assert len(statements) > queries
    finally:
        event.remove(core.ctx.engine, "before_cursor_execute", count)
        transparency.CACHE.clear()
