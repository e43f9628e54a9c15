"""What a Korean seller reads on a 390 px phone must be true: batch results, names, accounts, lists."""

from __future__ import annotations

import re
from email.utils import parseaddr

import pytest
from playwright.sync_api import Page

from tests.support.polling import poll_until
from tests.web.conftest import Site
from tests.web.flows import become_seller, sign_up, trade_mails
from tests.web.test_trust_shell import PROFILE, _operator, _save_profile
from voucher_exchange.web import profile_cache

pytestmark = pytest.mark.browser


def test_a_batch_held_for_review_never_claims_it_is_done_nor_that_nothing_was_sent(
    phone: Page, site: Site
) -> None:
    seller = become_seller(phone, site)
    # High-value Google Play cards from an account minutes old: every line goes to a person.
    vouchers = [site.exchange.mint("google-play-kr", 100000) for _ in range(3)]
    phone.goto("/sell/batch")
    # A blank line between the codes: the rows on screen are still numbered 1, 2, 3.
    phone.fill("#codes", f"{vouchers[0]['code']}\n\n{vouchers[1]['code']}\n{vouchers[2]['code']}\n")
    phone.select_option("#brand", "google-play-kr")
    phone.fill("#face", "100000")
    phone.select_option("#method", "gift")
    phone.click("#batch-preview")
    phone.click("#sell-all")
    phone.wait_for_url(re.compile(r".*/sell/batch/[0-9a-f-]{36}$"))
    held = phone.wait_for_selector("#batch-held", timeout=25_000)
    assert held is not None
    lines = phone.locator("tr.batch-line")
    assert [lines.nth(i).get_attribute("data-status") for i in range(3)] == ["in_review"] * 3
    assert phone.locator(".line-number").all_inner_texts() == ["1", "2", "3"]
    assert held.inner_text().startswith("3건은 담당자가 확인하고 있어")
    assert phone.locator("#batch-settled").count() == 0
    assert "끝났습니다" not in phone.inner_text("#batch-lines")

    mail = poll_until(lambda: trade_mails(site, seller.email) or None, 15, what="the batch summary")
    assert [m["Subject"] for m in mail] == ["상품권 3건: 확인 중 3건"]
    body = mail[0].get_content()
    assert not re.search(r"(?<![0-9,])0(원|건)", body) and "보냈습니다" not in body
    assert body.splitlines()[0].startswith("담당자 확인 중 3건: 상품권에서는 아직 아무것도")
    # Nothing was paid, nothing claimed from the vouchers.
    assert site.exchange.rail_transfers(seller.account_number) == []
    assert all(site.exchange.lookup(v["code"])["state"] == "active" for v in vouchers)


def test_the_header_title_and_e_mails_carry_the_business_profiles_service_name(
    phone: Page, site: Site
) -> None:
    with _operator(site) as operator:
        assert _save_profile(operator, {**PROFILE, "service_name": "믿음교환"}).status_code == 303
    profile_cache.forget(site.exchange.ctx)
    try:
        phone.goto("/")
        assert phone.inner_text("#service-name") == "믿음교환"
        assert phone.locator("#service-demo").count() == 0  # a saved profile is no demo
        assert phone.title().endswith(" · 믿음교환")
        assert "voucher" not in phone.inner_text("header.top").lower()
        email = sign_up(phone, site=site)
        mail = site.inbox.to(email)[0]
        assert parseaddr(str(mail["From"]))[0] == "믿음교환"
        assert mail["Subject"] == "믿음교환 이메일 주소를 확인해 주세요"
        assert "voucher-exchange" not in mail.get_content()
    finally:
        with _operator(site) as operator:
            _save_profile(operator, PROFILE)
        profile_cache.forget(site.exchange.ctx)
