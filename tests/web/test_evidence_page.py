"""A refused trade's evidence in the browser, in Korean on a phone: the issuer's facts in plain
words, the signed record to download (it verifies), the appeal, and a reviewer's answer."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Browser

from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import become_seller, log_in, submit_voucher, take_quote, wait_status
from tests.web.test_axe import violations
from voucher_exchange.demo import DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD
from voucher_exchange.receipts import service as receipt_service

pytestmark = pytest.mark.browser


def test_a_korean_seller_reads_the_issuers_facts_downloads_the_signed_record_and_appeals(
    browser: Browser, site: Site
) -> None:
    # bypass_csp: only so axe's script can be added to the page.
    context = browser.new_context(base_url=site.url, viewport=PHONE, locale="ko-KR", bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    staff = browser.new_context(base_url=site.url, viewport=PHONE, locale="ko-KR", bypass_csp=True)  # type: ignore[arg-type]
    staff.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    staff.set_default_timeout(15_000)
    try:
        phone = context.new_page()
        become_seller(phone, site)
        voucher = site.exchange.mint(
            "cultureland", 10000, state="redeemed", redeemed_at="2026-12-01T14:03:00+09:00"
        )
        reference = site.exchange.lookup(voucher["code"], voucher.get("pin"))["redeemed_by"]
        take_quote(phone, "cultureland", "10000")
        trade_id = submit_voucher(phone, voucher["code"], pin=voucher.get("pin"))
        wait_status(phone, "rejected")

        fact = phone.inner_text("#evidence-facts li[data-what='issuer.lookup']")
        assert f"발행사 확인: 2026. 12. 1. 오후 2:03에 이미 사용됨 (참조 {reference})." in fact
        assert phone.inner_text("#first-seen").startswith("이 거래소가 이 상품권을 처음 접수한 시각: ")
        assert phone.get_attribute("#evidence-download", "href") == f"/trades/{trade_id}/evidence.json"
        assert phone.inner_text("#evidence-download") == "서명된 기록 내려받기"
        assert voucher["code"] not in phone.content()
        assert violations(phone) == [], "refused trade with its evidence"
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways at {PHONE['width']} px: {width}"
        screenshot(phone, "seller-phone-evidence-record")

        with phone.expect_download() as downloading:
            phone.click("#evidence-download")
        download = downloading.value
        assert download.suggested_filename == f"evidence-{trade_id}.json"
        document = json.loads(download.path().read_text(encoding="utf-8"))
        assert document["record"]["facts"][0]["details"]["redeemed_at"] == "2026-12-01T05:03:00Z"
        with site.exchange.ctx.uow(readonly=True) as uow:
            assert receipt_service.check(uow.conn, document).valid

        # The verify page says what it is, in Korean.
        phone.goto("/receipts/verify")
        phone.click("details.for-developers summary")
        phone.fill("#receipt", json.dumps(document, ensure_ascii=False, indent=2))
        phone.click("#verify-submit")
        phone.wait_for_selector("#verify-result")
        assert phone.inner_text("#verify-result strong") == (
            "유효함: 이 거래소가 서명했고 내용이 바뀌지 않은 증빙 기록입니다."
        )
        assert phone.inner_text("#verify-trade") == trade_id
        assert violations(phone) == [], "verify: an evidence record"

        phone.goto(f"/trades/{trade_id}")
        phone.fill("#refusal-appeal-note", "12월 3일에 편의점에서 샀습니다.")
        phone.click("#refusal-appeal-form button[type=submit]")
        phone.wait_for_selector("#refusal-appeal-status")
        assert phone.inner_text("#refusal-appeal-status") == "담당자가 이의 제기를 검토하고 있습니다."
        assert phone.locator("#refusal-appeal-form").count() == 0
        assert violations(phone) == [], "appealed"

        reviewer = staff.new_page()
        log_in(reviewer, DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD)
        reviewer.goto("/staff/review")
        appeal = reviewer.locator(f"#appeal-{trade_id}")
        assert "12월 3일에 편의점에서 샀습니다." in appeal.inner_text()
        assert violations(reviewer) == [], "staff queue with a refusal appeal"
        appeal.locator("textarea").fill("발행사 기록상 12월 1일 14:03에 사용되었습니다.")
        appeal.get_by_role("button", name="거절 유지").click()
        reviewer.wait_for_url(re.compile(r".*/staff/review$"))
        assert reviewer.locator(f"#appeal-{trade_id}").count() == 0

        phone.reload()
        assert (
            phone.inner_text("#refusal-appeal-status")
            == "담당자가 이의 제기를 검토했습니다. 결정은 유지됩니다."
        )
        assert "발행사 기록상 12월 1일 14:03에 사용되었습니다." in phone.inner_text("#refusal-appeal-answer")
        answered = phone.request.get(f"/trades/{trade_id}/evidence.json").json()
        assert answered["record"]["appeal"]["status"] == "upheld"
        assert answered["signature"] != document["signature"]
        with site.exchange.ctx.uow(readonly=True) as uow:
            assert receipt_service.check(uow.conn, answered).valid
        assert violations(phone) == [], "answered"
    finally:
        context.close()
        staff.close()
