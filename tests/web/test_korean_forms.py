"""A Korean seller on a phone: bank picked by name, 예금주 확인, chips and 5만원, carrier billing
stopped in the form, refused trades with 지급 없음, and the steps of a failed payout."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from sqlalchemy import func, select

from tests.support.assertions import assert_nothing_moved
from tests.support.exchange import new_account_number
from tests.web.conftest import Site, screenshot
from tests.web.flows import become_seller, sign_up, submit_voucher, take_quote, wait_status
from voucher_exchange.db.schema import payout_destinations, trades, users, voucher_claims

pytestmark = pytest.mark.browser


def _trade_count(site: Site, email: str) -> int:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return int(
            uow.conn.execute(
                select(func.count()).select_from(trades).join(users, users.c.id == trades.c.user_id)
                .where(users.c.email == email)
            ).scalar_one()
        )  # fmt: skip


def _claims(site: Site) -> int:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return int(uow.conn.execute(select(func.count()).select_from(voucher_claims)).scalar_one())


def _destinations(site: Site, email: str) -> list[tuple[str, bool, bool]]:
    """(bank_code, is_default, removed) of a seller's accounts, oldest first."""
    d = payout_destinations.c
    with site.exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(d.bank_code, d.is_default, d.removed_at).join(users, users.c.id == d.user_id)
            .where(users.c.email == email).order_by(d.created_at)
        ).all()  # fmt: skip
    return [(r.bank_code, bool(r.is_default), r.removed_at is not None) for r in rows]


def test_a_bank_picked_by_name_is_checked_then_saved_then_a_chip_sells_and_pays(
    phone: Page, site: Site
) -> None:
    seller = become_seller(phone, site)  # picks "KB국민은행" by its code in the list, checks, saves
    assert _destinations(site, seller.email) == [("004", True, False)]
    row = phone.inner_text(".account-row")
    assert "KB국민은행" in row and seller.account_number[-4:] in row and "기본" in row

    # A second account at 카카오뱅크: the holder check shows the answer before anything is stored.
    other = new_account_number()
    site.exchange.sandbox(
        "POST",
        "/rail/accounts",
        {"bank_code": "090", "account_number": other, "holder_name": seller.legal_name},
    )
    phone.goto("/account")
    options = phone.locator("#bank_code option").all_inner_texts()
    assert "카카오뱅크" in options and "신한은행" in options and "토스뱅크" in options
    phone.select_option("#bank_code", label="카카오뱅크")
    phone.fill("#account_number", other)
    phone.click("#check-account")
    check = phone.inner_text("#holder-check")
    assert f"카카오뱅크 ••••{other[-4:]} 계좌의 예금주가 {seller.legal_name} 님으로 확인되었습니다." in check
    assert other not in phone.content()  # the number is never sent back whole
    assert len(_destinations(site, seller.email)) == 1  # checked, not stored
    screenshot(phone, "seller-phone-holder-check-ko")
    phone.click("#save-account")
    phone.wait_for_url("**/account")
    assert _destinations(site, seller.email) == [("004", True, False), ("090", False, False)]
    phone.click(f".account-row:has-text('{other[-4:]}') .make-default")
    phone.wait_for_url("**/account")
    assert _destinations(site, seller.email) == [("004", False, False), ("090", True, False)]
    phone.click(f".account-row:has-text('{seller.account_number[-4:]}') .remove-account")
    phone.click("#confirm-yes")  # it asks first
    phone.wait_for_url("**/account")
    assert _destinations(site, seller.email) == [("004", False, True), ("090", True, False)]
    assert phone.locator(".account-row").count() == 1

    # Sell with a chip: the brand's denominations are tappable, the default account preselected.
    voucher = site.exchange.mint("cultureland", 50000)
    phone.goto("/")
    phone.select_option("#brand", "cultureland")
    phone.click("#face-chips a[data-face='50000']")
    assert phone.wait_for_selector("#calc-payout").inner_text() == "45,500원"  # type: ignore[union-attr]
    assert phone.input_value("#face") == "50000"
    phone.click("#take-quote")
    phone.wait_for_url(re.compile(r".*/sell/[0-9a-f-]{36}$"))
    assert phone.inner_text("#sell-submit") == "45,500원에 판매하기"
    assert other[-4:] in phone.locator("#payout_destination_id option:checked").inner_text()
    submit_voucher(phone, voucher["code"])
    wait_status(phone, "paid")
    assert phone.inner_text("#paid-message") == "45,500원을 계좌로 보냈습니다."
    # The first step's time, then each later one as time since it (all within seconds here).
    stamps = phone.locator(".timeline time").all_inner_texts()
    assert re.fullmatch(r"\d{4}\. \d{1,2}\. \d{1,2}\. (오전|오후) \d{1,2}:\d{2}:\d{2}", stamps[0])
    assert stamps and all(re.fullmatch(r"\+[0-9.]+(초|분)", s) for s in stamps[1:])
    assert [(t["amount"], t["status"]) for t in site.exchange.rail_transfers(other)] == [(45500, "executed")]


def test_a_holder_in_another_name_is_shown_and_nothing_is_stored(phone: Page, site: Site) -> None:
    seller = become_seller(phone, site)
    stranger = new_account_number()
    site.exchange.sandbox(
        "POST", "/rail/accounts", {"bank_code": "088", "account_number": stranger, "holder_name": "김철수"}
    )
    phone.goto("/account")
    phone.select_option("#bank_code", "088")
    phone.fill("#account_number", stranger)
    phone.click("#check-account")
    assert "인증된 본인 이름과 다릅니다" in phone.inner_text("#bank-error")
    # What was chosen stays; the number is typed again.
    assert phone.input_value("#bank_code") == "088"
    assert phone.input_value("#account_number") == ""
    assert phone.locator("#save-account").count() == 0
    assert _destinations(site, seller.email) == [("004", True, False)]


def test_typed_korean_amounts_quote_the_same(phone: Page, site: Site) -> None:
    phone.goto("/")
    phone.select_option("#brand", "cultureland")
    for typed in ("5만원", "50,000원", "₩50,000"):
        phone.fill("#face", typed)
        phone.wait_for_selector("#calc-payout:text('45,500원')")
    phone.fill("#face", "1e999999999")
    assert "숫자" in phone.wait_for_selector("#calc-result .error").inner_text()  # type: ignore[union-attr]


def test_carrier_billing_is_stopped_in_the_form_and_nothing_is_stored(
    page: Page, phone: Page, site: Site
) -> None:
    for browser_page, lang in ((page, "en"), (phone, "ko")):
        seller = become_seller(browser_page, site)
        voucher = site.exchange.mint("cultureland", 30000)
        take_quote(browser_page, "cultureland", "30000")
        sell_url = browser_page.url
        browser_page.fill("#code", voucher["code"])
        assert browser_page.locator("#carrier-stop").is_hidden()
        browser_page.check("#method-carrier_billing")
        stop = browser_page.inner_text("#carrier-stop")
        expected = {
            "en": "We cannot buy a voucher paid with mobile phone billing.",
            "ko": "휴대폰 소액결제로 산 상품권은 매입할 수 없습니다.",
        }
        assert expected[lang] in stop
        assert browser_page.is_disabled("#sell-submit")
        browser_page.press("#code", "Enter")
        browser_page.evaluate("document.getElementById('sell-form').requestSubmit()")
        assert browser_page.url == sell_url
        # Without the script, the server stops it the same way: 422, the form again, nothing stored.
        form = {
            "csrf_token": browser_page.input_value("input[name=csrf_token]"),
            "code": voucher["code"],
            "method": "carrier_billing",
            "acquired_on": browser_page.input_value("#acquired_on"),
            "payout_destination_id": browser_page.input_value("#payout_destination_id"),
        }
        claims_before = _claims(site)
        answer = browser_page.request.post(sell_url, form=form, max_redirects=0)
        assert answer.status == 422
        assert voucher["code"] not in answer.text()
        assert 'value="carrier_billing" required checked' in answer.text()
        assert _trade_count(site, seller.email) == 0
        assert _claims(site) == claims_before
        assert_nothing_moved(site.exchange, seller, None, voucher, face_value=30000)
        # Choosing another way lets the seller go on (the stop is not a dead end).
        browser_page.check("#method-gift")
        assert browser_page.locator("#carrier-stop").is_hidden()
        assert not browser_page.is_disabled("#sell-submit")
    screenshot(phone, "seller-phone-carrier-stop-ko")


def test_a_refused_trade_says_no_payout_and_tells_what_happened(phone: Page, site: Site) -> None:
    become_seller(phone, site)
    used = site.exchange.mint("cultureland", 10000, state="redeemed")
    take_quote(phone, "cultureland", "10000")
    submit_voucher(phone, used["code"])
    wait_status(phone, "rejected")
    assert phone.inner_text("#trade-payout") == "지급 없음"
    assert phone.locator("#trade-payout.payout").count() == 0
    assert "이 상품권은 매입하지 않았습니다. 지급도 수수료도 없습니다." in phone.inner_text("#story")
    phone.goto("/trades")
    assert "지급 없음" in phone.inner_text("tbody tr")
    assert "컬쳐랜드" in phone.inner_text("tbody tr")


def test_the_language_switch_keeps_what_was_typed_but_never_the_code(phone: Page, site: Site) -> None:
    become_seller(phone, site)
    phone.goto("/")
    phone.select_option("#brand", "booknlife")
    phone.fill("#face", "1만원")
    phone.wait_for_selector("#calc-payout")
    phone.click("#lang-switch")
    phone.wait_for_selector("#lang-switch:text('한국어')")
    assert (phone.input_value("#brand"), phone.input_value("#face")) == ("booknlife", "1만원")
    phone.wait_for_selector("#calc-payout:text('₩8,900')")

    take_quote(phone, "cultureland", "10000")
    phone.fill("#code", "4111222233334444")
    phone.check("#method-card")
    phone.fill("#acquired_on", "2026-10-03")
    phone.click("#lang-switch")
    phone.wait_for_selector("#lang-switch:text('English')")
    assert phone.is_checked("#method-card")
    assert phone.input_value("#acquired_on") == "2026-10-03"
    assert phone.input_value("#code") == ""
    assert "4111222233334444" not in phone.evaluate("JSON.stringify(sessionStorage)")


def test_an_identity_error_keeps_what_was_typed(phone: Page, site: Site) -> None:
    sign_up(phone)
    phone.fill("#legal_name", "이서연")
    phone.fill("#birth_date", "2999-01-01")
    phone.fill("#phone", "010-2345-6789")
    phone.click("form[action='/account/identity'] button[type=submit]")
    phone.wait_for_selector(".error[role=alert]")
    typed = [phone.input_value(f"#{f}") for f in ("legal_name", "birth_date", "phone")]
    assert typed == ["이서연", "2999-01-01", "010-2345-6789"]
