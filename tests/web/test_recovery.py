"""The unhappy paths in the browser: a refused payout sent elsewhere, a withdrawal, a reversal (ko and en)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from tests.support.exchange import new_account_number
from tests.support.polling import poll_until
from tests.web.conftest import Site, screenshot
from tests.web.flows import (
    add_bank_account,
    become_seller,
    submit_voucher,
    take_quote,
    trade_mails,
    wait_status,
)

pytestmark = pytest.mark.browser


def test_a_refused_payout_is_sent_to_another_account_from_the_trade_page(page: Page, site: Site) -> None:
    seller = become_seller(page, site)
    site.exchange.sandbox(
        "POST", "/rail/accounts",
        {"bank_code": "004", "account_number": seller.account_number, "holder_name": seller.legal_name,
         "behavior": "reject"},
    )  # fmt: skip
    voucher = site.exchange.mint("cultureland", 50000)
    take_quote(page, "cultureland", "50000")
    trade_id = submit_voucher(page, voucher["code"])
    wait_status(page, "failed")
    assert page.inner_text("#payout-refused strong") == (
        f"The bank refused the transfer of ₩45,500 to KB Kookmin Bank ••••{seller.account_number[-4:]}."
    )
    # The seller's steps in plain words: the bank's refusal and where the money is.
    assert page.inner_text("#story li[data-step='failed']").endswith(
        "Your bank did not accept the transfer. The money is kept safe for you."
    )
    assert page.locator("#send-again").count() == 0  # no other account yet: the page says to add one
    mail = poll_until(lambda: trade_mails(site, seller.email) or None, 15, what="the refusal e-mail")
    assert mail[-1]["Subject"] == "Your bank refused ₩45,500: choose another account"

    other = new_account_number()
    site.exchange.sandbox(
        "POST",
        "/rail/accounts",
        {"bank_code": "088", "account_number": other, "holder_name": seller.legal_name},
    )
    page.click("text=Add another bank account")
    page.wait_for_url("**/account")
    add_bank_account(page, "088", other)
    page.goto(f"/trades/{trade_id}")
    screenshot(page, "seller-payout-refused")
    page.click("#send-again")
    wait_status(page, "paid")
    steps = page.locator("#story li").evaluate_all("items => items.map(i => i.dataset.step)")
    assert steps == ["received", "credited", "paying_out", "failed", "paying_out", "paid"]
    assert "We sent the money again, to the account you chose." in page.inner_text("#story")
    assert [(t["amount"], t["status"]) for t in site.exchange.rail_transfers(other)] == [(45500, "executed")]
    assert site.exchange.rail_transfers(seller.account_number) == []


def test_a_held_trade_shows_the_wait_and_can_be_withdrawn_in_korean(phone: Page, site: Site) -> None:
    become_seller(phone, site)
    voucher = site.exchange.mint("google-play-kr", 150000)
    take_quote(phone, "google-play-kr", "150000")
    submit_voucher(phone, voucher["code"])
    wait_status(phone, "in_review")
    assert "분 안에 끝납니다" in phone.inner_text("#expected-wait")
    # The page polls while a person reviews; an unchanged timeline is answered 204, so the
    # withdraw button is never replaced under a press.
    trade_id = phone.url.rsplit("/", 1)[1]
    shown = json.loads(phone.get_attribute("#timeline", "hx-vals") or "{}")["shown"]
    poll = f"/trades/{trade_id}/timeline?shown="
    assert phone.request.get(poll + shown).status == 204
    fresh = phone.request.get(poll + "stale")
    assert fresh.status == 200 and f'hx-vals=\'{{"shown": "{shown}"}}\'' in fresh.text()
    phone.click("#cancel-trade")
    phone.click("#confirm-yes")  # it asks first
    wait_status(phone, "cancelled")
    assert site.exchange.lookup(voucher["code"])["state"] == "active"


def test_a_reversed_trade_shows_the_issuers_evidence_and_takes_an_appeal_in_korean(
    phone: Page, site: Site
) -> None:
    become_seller(phone, site)
    voucher = site.exchange.mint("cultureland", 50000)
    take_quote(phone, "cultureland", "50000")
    trade_id = submit_voucher(phone, voucher["code"])
    wait_status(phone, "paid")
    site.exchange.sandbox("POST", "/issuer/chargebacks", {"code": voucher["code"], "reason": "stolen"})
    phone.goto(f"/trades/{trade_id}")
    poll_until(
        lambda: (phone.reload(), phone.locator("#reversal").count())[1] or None,
        20,
        interval=0.5,
        what="the reversal",
    )
    assert phone.inner_text("#owed") == "45,500원"
    assert "도난 신고됨" in phone.inner_text("#reversal")
    screenshot(phone, "seller-phone-reversed-ko")
    phone.fill("#appeal-note", "직접 카드로 구매했습니다.")
    phone.click("#appeal-form button[type=submit]")
    phone.wait_for_selector("#appeal-status")
    assert phone.inner_text("#appeal-status") == "담당자가 이의 제기를 검토하고 있습니다."
