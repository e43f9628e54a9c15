"""The language switch, and a whole sale done with the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.support.exchange import make_seller
from tests.web.conftest import Site, screenshot
from tests.web.flows import PASSWORD, become_seller, wait_status
from voucher_exchange.accounts import repository as accounts

pytestmark = pytest.mark.browser
TABS = 60


def tab_to(page: Page, selector: str) -> None:
    """Press Tab until `selector` has the focus (fails if it is not reachable by keyboard)."""
    for _ in range(TABS):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_the_language_switch_changes_every_page_and_the_sellers_e_mails(page: Page, site: Site) -> None:
    seller = become_seller(page, site)
    page.goto("/")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Turn an unused voucher into money in your bank account"
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=ko]")
    assert page.inner_text("h1") == "안 쓰는 상품권을 내 계좌의 현금으로"
    assert page.inner_text("#lang-switch") == "English"
    page.goto("/account")
    assert page.inner_text("h1") == "내 계정"
    screenshot(page, "seller-desktop-account-ko")
    with site.exchange.ctx.uow(readonly=True) as uow:
        stored = accounts.by_email(uow.conn, seller.email)
    assert stored is not None and stored[0].language == "ko"
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.inner_text("h1") == "Your account"


def test_a_whole_sale_with_the_keyboard_only(page: Page, site: Site) -> None:
    seller = make_seller(site.exchange)
    voucher = site.exchange.mint("cultureland", 10000)
    page.goto("/login")
    tab_to(page, "#email")
    page.keyboard.type(seller.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/")

    tab_to(page, "#brand")
    page.keyboard.type("Cultureland")  # a focused list picks the option typed
    assert page.eval_on_selector("#brand", "el => el.value") == "cultureland"
    tab_to(page, "#face")
    page.keyboard.type("10000")
    page.wait_for_selector("#calc-payout")
    assert page.inner_text("#calc-payout") == "₩9,000"
    tab_to(page, "#take-quote")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sell-form")

    tab_to(page, "#code")
    page.keyboard.type(voucher["code"])
    tab_to(page, "#method-gift")
    page.keyboard.press("Space")
    tab_to(page, "#sell-submit")
    page.keyboard.press("Enter")
    wait_status(page, "paid")
    assert page.inner_text("#paid-message") == "₩9,000 was sent to your bank account."
    assert [t["amount"] for t in site.exchange.rail_transfers(seller.account_number)] == [9000]


def test_every_field_has_a_label_and_focus_is_visible(page: Page, site: Site) -> None:
    become_seller(page, site)
    for path in ("/", "/account", "/account/developers", "/sell/batch", "/trades", "/signup"):
        page.goto(path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                 .map(el => el.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
    tab_to(page, "a.skip")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
