"""The public transparency report in the browser: in Korean on a phone, from the footer, axe-clean."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page

from tests.support.exchange import make_seller
from tests.web.conftest import DESKTOP, PHONE, Site, screenshot
from tests.web.flows import log_in
from tests.web.test_axe import violations
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD

pytestmark = pytest.mark.browser

HIDDEN = "비공개(10건 미만)"


def test_anyone_reads_the_report_in_korean_on_a_phone(phone: Page, site: Site) -> None:
    seller = make_seller(site.exchange)
    trade_id = seller.sell(site.exchange.mint("cultureland", 10000), "cultureland", 10000)
    assert seller.api.wait_for(trade_id)["status"] == "paid"
    # Tomorrow, today's trades are in the last 30 days (a report ends at the start of today).
    site.exchange.clock.offset = timedelta(days=1)
    try:
        phone.goto("/")
        phone.click("footer >> text=투명성 보고서")
        phone.wait_for_url("**/transparency")
        assert phone.inner_text("h1") == "투명성 보고서"
        assert phone.inner_text("#figures-title") == "최근 30일"
        # One paid trade here (a few more if other tests sold today): too few to show, or rounded.
        trades = phone.inner_text("#tr-trades")
        assert trades == HIDDEN or (
            int(trades.replace(",", "")) >= 10 and int(trades.replace(",", "")) % 5 == 0
        )
        if trades == HIDDEN:
            assert phone.inner_text("#tr-volume") == HIDDEN and phone.inner_text("#tr-p50") == HIDDEN
        # Every section is recorded now: a count (other tests on this database may have filed
        # reports or paused an issuer at an injected time in the period), never "not recorded".
        for figure in ("#tr-promise", "#tr-compensation", "#tr-fraud", "#tr-freeze", "#tr-pauses"):
            assert phone.inner_text(figure) != "아직 기록하지 않음", figure
        assert phone.inner_text("#tr-fraud") == "0" or phone.inner_text("#tr-fraud") == HIDDEN
        assert re.fullmatch(r"[0-9a-f]{64}", phone.inner_text("#tr-audit-hash"))
        assert "1건부터 9건까지의 거래나 사건으로 만든 수치는 숨깁니다" in phone.inner_text("#rounding")
        assert phone.get_attribute("#tr-json", "href") == "/transparency.json"
        # Nothing wider than the phone (the 64-digit hash wraps).
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(phone, "transparency-phone")

        today = site.exchange.clock.now().astimezone(ZoneInfo("Asia/Seoul")).date()
        month = f"{today.year:04d}-{today.month:02d}"
        phone.select_option("#month", month)
        phone.click("#transparency-show")
        phone.wait_for_url(f"**/transparency?month={month}")
        assert phone.inner_text("#figures-title") == f"{month} 보고서"
        assert phone.get_attribute("#tr-json", "href") == f"/transparency.json?month={month}"
        document = phone.request.get(f"/transparency.json?month={month}").json()
        assert document["period"]["month"] == month
    finally:
        site.exchange.reset_clock()


def test_the_operators_dashboard_links_the_public_report(page: Page) -> None:
    log_in(page, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    page.goto("/staff")
    page.click("#dashboard-transparency")
    page.wait_for_url("**/transparency")
    assert page.inner_text("h1") == "Transparency report"


def test_a_month_not_yet_begun_is_explained(phone: Page) -> None:
    phone.goto("/transparency?month=2999-01")
    assert phone.inner_text("#transparency-error") == "아직 시작하지 않은 달이라 보고할 내용이 없습니다."
    assert phone.locator("#figures-title").count() == 0


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_transparency_page_passes_axe(browser: Browser, site: Site, lang: str) -> None:
    context = browser.new_context(base_url=site.url, viewport=DESKTOP, bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": lang, "url": site.url}])
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/transparency")
        assert violations(page) == [], "last 30 days"
        page.goto("/transparency?month=2026-13")
        assert violations(page) == [], "a refused month"
        page.set_viewport_size(PHONE)
        page.goto("/transparency?month=2026-11")
        assert violations(page) == [], "a month, on a phone"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
