"""Issue 24 in the browser, in Korean on a 390 px phone: deletion waits for the liability window
and says until when, the login can be closed instead, and a new account of the same person is
told in plain words what it owes from the old one. Every page axe-clean."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from babel.dates import format_date
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.polling import poll_until
from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import PASSWORD, become_seller, submit_voucher, take_quote, wait_status
from tests.web.test_axe import violations
from voucher_exchange import i18n
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.reversals import service as reversal_service

pytestmark = pytest.mark.browser


@pytest.fixture
def contexts(browser: Browser, site: Site) -> Iterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def _korean_phone(browser: Browser, site: Site, opened: list[BrowserContext]) -> Page:
    context = browser.new_context(  # type: ignore[arg-type]
        base_url=site.url, viewport=PHONE, locale="ko-KR", bypass_csp=True
    )
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    opened.append(context)
    return context.new_page()


def _user_id(site: Site, email: str) -> str:
    with site.exchange.ctx.uow(readonly=True) as uow:
        found = account_repo.by_email(uow.conn, email)
    assert found is not None
    return found[0].id


def test_deletion_waits_the_login_closes_and_the_new_account_is_told_what_it_owes(
    browser: Browser, site: Site, contexts: list[BrowserContext]
) -> None:
    phone = _korean_phone(browser, site, contexts)
    name = "Choi Minho"
    seller = become_seller(phone, site, legal_name=name)
    old_id = _user_id(site, seller.email)
    voucher = site.exchange.mint("cultureland", 10000)
    take_quote(phone, "cultureland", "10000")
    submit_voucher(phone, voucher["code"])
    wait_status(phone, "paid")

    phone.goto("/account/security")
    blocked = phone.locator("#erasure-blocked")
    assert blocked.get_attribute("data-code") == "liability_window_open"
    window = site.exchange.ctx.settings.liability_window_days
    possible = (site.exchange.clock.now() + timedelta(days=window)).date() + timedelta(days=1)
    day = format_date(possible, "long", locale=i18n.locale("ko"))
    assert blocked.inner_text() == (
        f"아직 삭제할 수 없습니다. 대금을 보낸 뒤 {window}일 동안은 발행사가 상품권을 환수할 수 있고, "
        f"그러면 지급한 대금을 돌려주셔야 합니다. {day}부터 계정을 삭제할 수 있습니다."
    )
    assert phone.locator("#delete-account").count() == 0
    assert phone.inner_text("#close-title") == "대신 로그인 닫기"
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert violations(phone) == [], "security page, deletion waiting"
    screenshot(phone, "security-deletion-waits-phone")

    phone.fill("#close_password", PASSWORD)
    phone.click("#close-login")
    phone.wait_for_url("**/login?notice=login_closed")
    assert "로그인을 닫았습니다. 이 계정으로는 아무도 로그인할 수 없고, 기록은 남습니다." in phone.content()

    # The issuer takes the voucher back after the login was closed: the debt stays on the record.
    taken = site.exchange.sandbox(
        "POST", "/issuer/chargebacks", {"code": voucher["code"], "reason": "stolen"}
    )
    assert taken.status_code == 202, taken.text

    def owed() -> int | None:
        with site.exchange.ctx.uow(readonly=True) as uow:
            amount = reversal_service.owed_by(uow.conn, old_id, "KRW").amount
        return amount or None

    assert poll_until(owed, 30, what="the reversal") == 9000

    # The same person signs up again: the account page says what they owe, in plain words.
    again = _korean_phone(browser, site, contexts)
    become_seller(again, site, legal_name=name)
    again.goto("/account")
    assert again.inner_text("#owed-linked") == (
        "회원님의 다른 계정(본인 확인된 이름과 생년월일, 계좌 또는 이메일 주소가 같은 계정)에서 "
        "갚으셔야 할 금액 9,000원이 있습니다. 그 계정에서 판매한 상품권을 대금 지급 후 발행사가 환수했습니다."
    )
    assert again.locator("#owed-own").count() == 0
    assert again.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert violations(again) == [], "account page, linked receivable"
    screenshot(again, "account-linked-receivable-phone")

    # Their next sale settles the debt first: the paid page never says the money went to the bank.
    settle = site.exchange.mint("cultureland", 10000)
    take_quote(again, "cultureland", "10000")
    submit_voucher(again, settle["code"])
    wait_status(again, "paid")
    settled = "9,000원은 반환하실 금액을 갚는 데 쓰여 계좌로 보낸 돈은 없습니다."
    assert again.inner_text("#paid-message") == settled
    assert owed() is None  # the old account's debt is settled
