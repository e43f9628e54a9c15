"""The fraud report form in Korean on a phone (axe-clean, one answer for any code); the staff cases pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from tests.support.exchange import make_seller
from tests.support.polling import poll_until
from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import log_in
from tests.web.test_axe import violations
from voucher_exchange.db.schema import audit_log
from voucher_exchange.demo import DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD
from voucher_exchange.fraud import repository as fraud_repo

pytestmark = pytest.mark.browser


@pytest.fixture
def korean_phone(browser: Browser, site: Site) -> Iterator[Page]:
    """A Korean phone whose CSP lets the test inject axe."""
    context = browser.new_context(base_url=site.url, viewport=PHONE, locale="ko-KR", bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _file(page: Page, code: str) -> tuple[str, str]:
    page.goto("/")
    page.click("a[href='/fraud-report']")
    page.wait_for_selector("#fraud-report")
    page.fill("#codes", code)
    page.fill("#name", "김피해")
    page.fill("#contact", "010-2345-6789")
    page.fill("#police_case_number", "2026-서울-0001")
    page.fill("#description", "전화로 검찰을 사칭한 사람에게 상품권 번호를 불러 주었습니다.")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#fraud-report-sent")
    report_id = page.inner_text("#report-id")
    return report_id, page.inner_text("main").replace(report_id, "<id>")


def test_a_victim_reports_in_korean_on_a_phone_and_hears_the_same_for_any_code(
    korean_phone: Page, site: Site
) -> None:
    page = korean_phone
    seller = make_seller(site.exchange)
    sold = site.exchange.mint("cultureland", 10000)
    seller.api.wait_for(seller.sell(sold, "cultureland", 10000), {"paid"}, timeout=30)
    page.goto("/fraud-report")
    assert page.inner_text("h1") == "도난·사기 상품권 신고"
    assert violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "fraud-report-ko")

    known_id, known_text = _file(page, sold["code"])
    assert violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    unknown_id, unknown_text = _file(page, site.exchange.mint("cultureland", 10000)["code"])

    assert known_text == unknown_text and "신고가 접수되었습니다" in known_text
    assert sold["code"] not in page.content()
    # Only the staff learn that the first one matched.
    poll_until(lambda: _case_for(site, known_id), 30, what="the case")
    poll_until(lambda: _matched(site, unknown_id), 30, what="the unknown report's match job")
    assert _case_for(site, unknown_id) is None


def test_a_bad_report_keeps_what_was_typed_but_never_the_codes(korean_phone: Page) -> None:
    page = korean_phone
    page.goto("/fraud-report")
    page.fill("#codes", "ABC")
    page.fill("#name", "김피해")
    page.fill("#contact", "010-2345-6789")
    page.fill("#description", "설명")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#form-error")
    assert page.inner_text("#form-error") == "상품권 번호는 영문과 숫자 6~64자입니다."
    assert page.input_value("#name") == "김피해" and page.input_value("#codes") == ""
    assert violations(page) == []


def _case_for(site: Site, report_id: str) -> str | None:
    with site.exchange.ctx.uow(readonly=True) as uow:
        found = [c.id for c in fraud_repo.cases(uow.conn, 1000) if c.report_id == report_id]
    return found[0] if found else None


def _matched(site: Site, report_id: str) -> bool:
    with site.exchange.ctx.uow(readonly=True) as uow:
        row = fraud_repo.report(uow.conn, report_id)
    return row is not None and row.matched_at is not None


def test_a_korean_reviewer_reads_the_case_holds_releases_and_downloads_the_masked_case_file(
    korean_phone: Page, site: Site
) -> None:
    seller = make_seller(site.exchange)
    sold = site.exchange.mint("cultureland", 10000)
    trade = seller.api.wait_for(seller.sell(sold, "cultureland", 10000), {"paid"}, timeout=30)
    answer = site.exchange.client().post(
        "/fraud-reports",
        {"codes": [sold["code"]], "reporter": {"name": "김피해", "contact": "victim@example.com"},
         "description": "사기 피해"},
    )  # fmt: skip
    case_id = poll_until(lambda: _case_for(site, answer.json()["report_id"]), 30, what="the case")

    page = korean_phone
    log_in(page, DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD)
    page.goto("/staff/fraud")
    row = page.locator("tr.fraud-case", has=page.locator(f"a[href='/staff/fraud/{case_id}']"))
    assert re.fullmatch(r"1분 미만|\d+분", row.locator("td.to-freeze").inner_text())
    assert violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    row.locator("a").click()
    page.wait_for_selector(f"#match-{trade['id']}")
    text = page.inner_text("main")
    assert seller.email in text and "••••" + sold["code"][-4:] in text and sold["code"] not in page.content()
    assert "이 금액까지 판매자의 다음 지급 동결" in text
    assert violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "fraud-case-ko")

    page.fill(f"#note-{trade['id']}", "신고 내용이 사실이 아님")
    page.click(f"#match-{trade['id']} button[value=release]")
    page.wait_for_selector(f"#match-{trade['id']}")
    assert "해제됨" in page.inner_text(f"#match-{trade['id']}")
    page.fill(f"#note-{trade['id']}", "다시 보류")
    page.click(f"#match-{trade['id']} button[value=hold]")
    page.wait_for_selector(f"#match-{trade['id']}")
    assert "해제됨" not in page.inner_text(f"#match-{trade['id']}")

    with page.expect_download() as download:
        page.click("#case-file button[type=submit]")
    document = json.loads(download.value.path().read_text(encoding="utf-8"))
    (sale,) = document["sales"]
    assert sale["payout_account"]["account_number"] == "••••" + seller.account_number[-4:]
    assert sale["seller"]["email"] == seller.email and document["account_numbers"] == "masked"
    with site.exchange.ctx.uow(readonly=True) as uow:
        actions = [
            r.action
            for r in uow.conn.execute(select(audit_log.c.action).where(audit_log.c.subject == case_id))
        ]
    assert actions == ["fraud.release", "fraud.hold", "fraud.case_file"]


def test_a_trade_held_by_a_report_shows_why_in_the_review_queue_in_korean(
    korean_phone: Page, site: Site
) -> None:
    seller = make_seller(site.exchange)
    voucher = site.exchange.mint("cultureland", 10000, latency_ms=1500)  # sits in verifying
    trade_id = seller.sell(voucher, "cultureland", 10000)
    seller.api.wait_for(trade_id, {"verifying"}, timeout=30)
    answer = site.exchange.client().post(
        "/fraud-reports",
        {"codes": [voucher["code"]], "reporter": {"name": "김피해", "contact": "held@example.com"},
         "description": "사기 피해"},
    )  # fmt: skip
    assert answer.status_code == 202
    seller.api.wait_for(trade_id, {"in_review"}, timeout=30)

    page = korean_phone
    log_in(page, DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD)
    page.goto("/staff/review?reason=fraud_report")
    row = page.locator("tr.held-trade", has=page.locator(f"a[href='/staff/review/{trade_id}']"))
    assert row.locator("span.reason").all_inner_texts() == ["도난·사기 신고됨"]
    page.goto(f"/staff/review/{trade_id}")
    assert "도난·사기 신고됨" in page.inner_text("main")
    assert violations(page) == []
