"""The payout-time promise in the browser, on a phone in Korean: stated on the sell page before
selling, shown on the trade page, and a late payout's compensation on the page and in its story."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser

from tests.support.exchange import new_account_number
from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import add_bank_account, become_seller, log_in, submit_voucher, take_quote, wait_status
from tests.web.test_axe import violations
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD
from voucher_exchange.promises import service as promise_service

pytestmark = pytest.mark.browser


def test_a_late_payout_shows_its_compensation_in_korean_on_a_phone(browser: Browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, viewport=PHONE, locale="ko-KR", bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        seller = become_seller(page, site)
        site.exchange.sandbox(  # the bank refuses the first account: the payout will be late
            "POST", "/rail/accounts",
            {"bank_code": "004", "account_number": seller.account_number, "holder_name": seller.legal_name,
             "behavior": "reject"},
        )  # fmt: skip
        voucher = site.exchange.mint("cultureland", 10000)
        take_quote(page, "cultureland", "10000")
        assert page.inner_text("#promise h2") == "입금 시간 보장"
        assert page.inner_text("#promise p >> nth=0") == (
            "상품권 확인 후 10분 안에 입금합니다. "
            "늦어지면 따로 요청하지 않으셔도 1,000원을 입금액에 더해 드립니다."
        )
        assert page.inner_text("#promise-exclusions").startswith("보장 제외: 은행 점검 시간(")
        assert violations(page) == [], "sell page with the promise"

        trade_id = submit_voucher(page, voucher["code"])
        wait_status(page, "failed")
        promise = page.locator("#trade-promise")
        assert promise.get_attribute("data-applies") == "true"
        assert promise.locator("dd").inner_text().endswith("늦어지면 수수료의 100%를 입금액에 더해 드립니다.")

        other = new_account_number()
        site.exchange.sandbox(
            "POST",
            "/rail/accounts",
            {"bank_code": "088", "account_number": other, "holder_name": seller.legal_name},
        )
        add_bank_account(page, "088", other)
        site.exchange.clock.offset += timedelta(minutes=11)  # past the promised 10 minutes
        page.goto(f"/trades/{trade_id}")
        page.click("#send-again")
        wait_status(page, "paid")

        assert page.inner_text("#trade-compensation") == "1,000원"
        assert page.inner_text("#paid-message") == "9,000원과 보상금 1,000원을 계좌로 보냈습니다."
        assert (
            page.locator("#trade-promise dd").inner_text()
            == "입금이 늦어져 1,000원을 입금액에 더해 드렸습니다."
        )
        assert "약속한 입금 시간을 지키지 못해 약속한 보상금을 이번 입금액에 더했습니다." in page.inner_text(
            "#story"
        )
        assert [(t["amount"], t["status"]) for t in site.exchange.rail_transfers(other)] == [
            (10_000, "executed")
        ]
        # Nothing runs off a 390 px screen, and the page passes axe.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "seller-phone-late-payout-compensation")
        assert violations(page) == [], "trade page with compensation"
    finally:
        site.exchange.reset_clock()
        context.close()


def _terms(site: Site) -> dict[str, object]:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return promise_service.terms_json(promise_service.terms(uow.conn, site.exchange.ctx.settings))


def test_an_operator_sets_the_promise_on_the_payouts_page_in_korean(browser: Browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, viewport=PHONE, locale="ko-KR", bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    page = context.new_page()
    exchange = site.exchange
    try:
        log_in(page, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
        page.goto("/staff/payouts")
        assert page.inner_text("#promise-terms h2") == "입금 시간 보장"
        assert violations(page) == [], "payouts page with the promise form"
        before = _terms(site)

        page.fill("#promise-compensation", "150")
        page.click("#save-promise")
        assert page.inner_text("#form-error") == "보상은 수수료의 0%에서 100% 사이로 정하세요."
        assert _terms(site) == before  # refused: nothing stored

        page.fill("#promise-minutes", "15")
        page.fill("#promise-compensation", "50")
        page.fill("#window-start", "23:40")
        page.fill("#window-end", "00:20")
        page.click("#save-promise")
        page.wait_for_url("**/staff/payouts")
        assert _terms(site) == {
            "minutes": 15,
            "compensation_bps": 5000,
            "bank_window": {"from": "23:40", "to": "00:20", "timezone": "Asia/Seoul"},
        }
        assert page.input_value("#promise-minutes") == "15"
    finally:
        # The other browser tests expect the default promise and no window, whatever the hour.
        promise_service.set_terms(
            exchange.ctx.engine,
            exchange.ctx.settings,
            10,
            10_000,
            ("00:00", "00:00"),
            "test",
            exchange.clock.now(),
        )
        context.close()
