"""Signed receipts in the browser: the page shows its signature; anyone verifies it on a phone, in Korean."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest
from playwright.sync_api import Browser, Page

from tests.web.conftest import DESKTOP, PHONE, Site, screenshot
from tests.web.flows import become_seller, submit_voucher, take_quote, wait_status
from tests.web.test_axe import violations
from voucher_exchange import i18n

pytestmark = pytest.mark.browser

VALID = "유효함: 이 거래소가 서명했고 내용이 바뀌지 않은 영수증입니다."
ALTERED = "유효하지 않음: 서명이 맞지 않습니다. 서명한 뒤에 내용이 바뀌었거나 서명이 바뀌었습니다."


def _verify(page: Page, pasted: str) -> None:
    page.goto("/receipts/verify")
    page.click("details.for-developers summary")
    page.fill("#receipt", pasted)
    page.click("#verify-submit")
    page.wait_for_selector("#verify-result")


def test_a_receipt_shows_its_signature_and_anyone_can_verify_it_in_korean(
    phone: Page, site: Site, new_page: Callable[..., Page]
) -> None:
    become_seller(phone, site)
    voucher = site.exchange.mint("cultureland", 10000)
    take_quote(phone, "cultureland", "10000")
    trade_id = submit_voucher(phone, voucher["code"])
    wait_status(phone, "paid")

    phone.goto(f"/trades/{trade_id}/receipt")
    download = phone.request.get(f"/trades/{trade_id}/receipt.json")
    assert download.status == 200
    assert download.headers["content-disposition"] == f'attachment; filename="receipt-{trade_id}.json"'
    document = download.json()
    receipt = document["receipt"]
    assert receipt["trade_id"] == trade_id
    assert receipt["payout"] == {"amount": 9000, "currency": "KRW"}
    assert phone.inner_text("#receipt-key-id") == document["key_id"]
    assert phone.inner_text("#receipt-signature") == document["signature"]
    ends = datetime.fromisoformat(receipt["liability_ends_at"].replace("Z", "+00:00"))
    assert phone.inner_text("#receipt-liability") == i18n.format_when(ends, "ko", "Asia/Seoul")
    assert phone.get_attribute("#receipt-download", "href") == f"/trades/{trade_id}/receipt.json"
    assert voucher["code"] not in phone.content()
    screenshot(phone, "seller-phone-signed-receipt")

    # Someone else, not signed in, on a phone in Korean.
    anyone = new_page("ko-KR", PHONE)
    _verify(anyone, json.dumps(document, ensure_ascii=False, indent=2))
    assert anyone.get_attribute("#verify-result", "data-valid") == "true"
    assert anyone.inner_text("#verify-result strong") == VALID
    assert anyone.inner_text("#verify-trade") == trade_id
    assert anyone.inner_text("#verify-payout") == "9,000원"
    screenshot(anyone, "verify-receipt-phone-valid")

    receipt["payout"]["amount"] = 90000
    _verify(anyone, json.dumps(document, ensure_ascii=False))
    assert anyone.get_attribute("#verify-result", "data-valid") == "false"
    assert anyone.inner_text("#verify-result strong") == ALTERED
    assert anyone.locator("#verify-trade").count() == 0

    _verify(anyone, "not a receipt")
    assert anyone.inner_text("#verify-result strong") == (
        "영수증이 아닙니다. 영수증에서 내려받은 JSON 파일 전체를 붙여 넣으세요."
    )


def test_the_receipt_and_verify_pages_pass_axe(browser: Browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, viewport=DESKTOP, bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        become_seller(page, site)
        voucher = site.exchange.mint("cultureland", 10000)
        take_quote(page, "cultureland", "10000")
        trade_id = submit_voucher(page, voucher["code"])
        wait_status(page, "paid")
        page.goto(f"/trades/{trade_id}/receipt")
        assert violations(page) == [], "receipt"
        document = page.request.get(f"/trades/{trade_id}/receipt.json").json()
        _verify(page, json.dumps(document))
        assert page.get_attribute("#verify-result", "data-valid") == "true"
        assert violations(page) == [], "verify: valid"
        _verify(page, "{}")
        assert violations(page) == [], "verify: not a receipt"
    finally:
        context.close()
