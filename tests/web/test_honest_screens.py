"""What a Korean seller reads on a 390 px phone must be true: batch results, names, accounts, lists."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import parseaddr
from urllib.parse import unquote

import pytest
from playwright.sync_api import Browser, Page

from tests.support.assertions import assert_voucher_untouched
from tests.support.exchange import Api, new_account_number
from tests.support.polling import poll_until
from tests.web.conftest import PHONE, Site
from tests.web.flows import (
    PASSWORD,
    add_bank_account,
    become_seller,
    calculate,
    log_in,
    sign_up,
    submit_voucher,
    take_quote,
    trade_mails,
    wait_status,
)
from tests.web.test_axe import violations
from tests.web.test_trust_shell import PROFILE, _operator, _save_profile, fresh_texts  # noqa: F401
from voucher_exchange.errors import DomainError
from voucher_exchange.web import forms, labels, profile_cache

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


@pytest.mark.usefixtures("fresh_texts")  # the demo profile again afterwards, for the other tests
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
        profile_cache.forget(site.exchange.ctx)


def test_an_account_the_bank_refused_is_shown_as_refused_and_never_offered_again(
    phone: Page, site: Site
) -> None:
    seller = become_seller(phone, site)
    site.exchange.sandbox(
        "POST", "/rail/accounts",
        {"bank_code": "004", "account_number": seller.account_number, "holder_name": seller.legal_name,
         "behavior": "reject"},
    )  # fmt: skip
    voucher = site.exchange.mint("cultureland", 10000)
    take_quote(phone, "cultureland", "10000")
    trade_id = submit_voucher(phone, voucher["code"])
    wait_status(phone, "failed")
    masked = "••••" + seller.account_number[-4:]
    # The seller is the one who acts, and the refusal names the account.
    assert phone.inner_text("#trade-status") == "다른 계좌를 골라 주세요"
    assert phone.inner_text("#payout-refused strong") == (
        f"은행이 KB국민은행 {masked} 계좌로 보낸 9,000원 입금을 거절했습니다."
    )
    phone.goto("/trades")
    assert "다른 계좌를 골라 주세요" in phone.inner_text("table")
    assert "담당자 확인 중" not in phone.inner_text("table")

    phone.goto("/account")
    row = phone.locator(f"li.account-row:has-text('{masked}')")
    assert row.locator(".account-refused").inner_text().startswith("은행이 입금을 거절함")
    assert "확인됨" not in row.inner_text() and row.locator(".default-badge").count() == 0
    refused_id = row.get_attribute("data-destination")

    # With another account added, neither the next sale nor a batch offers the refused one.
    other = new_account_number()
    holder = {"bank_code": "088", "account_number": other, "holder_name": seller.legal_name}
    site.exchange.sandbox("POST", "/rail/accounts", holder)
    add_bank_account(phone, "088", other)
    take_quote(phone, "cultureland", "10000")
    offered = phone.locator("#payout_destination_id option").evaluate_all("os => os.map(o => o.value)")
    assert refused_id not in offered and len(offered) == 1
    phone.goto("/sell/batch")
    offered = phone.locator("#payout_destination_id option").evaluate_all("os => os.map(o => o.value)")
    assert refused_id not in offered and len(offered) == 1
    # Nor does the API: a new trade to the refused account is refused, and nothing is written.
    token = Api(site.exchange, None).post("/sessions", {"email": seller.email, "password": PASSWORD}).json()
    api = Api(site.exchange, token["token"])
    before = api.get("/trades").json()["trades"]
    quote = api.post("/quotes", {"brand": "cultureland", "face_value": {"amount": 10000, "currency": "KRW"}})
    fresh = site.exchange.mint("cultureland", 10000)
    answer = api.post("/trades", {
        "quote_id": quote.json()["id"], "voucher": {"code": fresh["code"]},
        "acquisition": {"method": "gift", "acquired_on": "2026-11-01"}, "payout_destination_id": refused_id,
    })  # fmt: skip
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "payout_destination_refused")
    assert api.get("/trades").json()["trades"] == before
    assert_voucher_untouched(site.exchange, fresh, 10000)
    # The refused trade's money waits in the seller's payable: nothing reached the bank.
    assert site.exchange.rail_transfers(seller.account_number) == []
    phone.goto(f"/trades/{trade_id}")
    assert phone.inner_text("#trade-number") == labels.trade_number(trade_id)  # a way to a person


# Each token (amount, brand, status, time) as laid out: how many line boxes, and whether its
# right edge stays inside the viewport. Read from the rendered page, not from the CSS.
_TOKENS = """(els) => els.map(e => {
  const box = e.getBoundingClientRect();
  const style = getComputedStyle(e);
  const line = parseFloat(style.lineHeight) || 1.6 * parseFloat(style.fontSize);
  return {text: e.textContent.trim(), rects: e.getClientRects().length,
          oneLine: box.height <= line * 1.3, inside: box.right <= window.innerWidth + 0.5};
})"""


def _tokens_whole(page: Page, selector: str) -> list[str]:
    """The tokens under `selector`; asserts each sits on one line inside a 390 px screen."""
    found = page.locator(f"{selector} .tok").evaluate_all(_TOKENS)
    assert found, f"no tokens under {selector}"
    broken = [t for t in found if t["rects"] != 1 or not t["oneLine"] or not t["inside"]]
    assert broken == [], broken
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    return [t["text"] for t in found]


def test_history_batch_results_and_rates_are_cards_on_a_phone_and_never_break_a_token(
    phone: Page, site: Site, new_page: Callable[..., Page]
) -> None:
    phone.goto("/")
    rates = _tokens_whole(phone, "table.rates")
    assert "컬쳐랜드 문화상품권" in rates and "50,000원" in rates

    seller = become_seller(phone, site)
    vouchers = [site.exchange.mint("cultureland", 5000) for _ in range(2)]
    phone.goto("/sell/batch")
    phone.fill("#codes", "\n".join(v["code"] for v in vouchers))
    phone.select_option("#brand", "cultureland")
    phone.fill("#face", "5000")
    phone.select_option("#method", "gift")
    phone.click("#batch-preview")
    phone.click("#sell-all")
    phone.wait_for_selector("#batch-settled", timeout=25_000)
    _tokens_whole(phone, "#batch-lines")
    # A card row: the result sits at the right edge of its card, on the number's line.
    first = phone.locator("tr.batch-line").first
    number, result = (first.locator(s).bounding_box() for s in (".line-number", ".result"))
    assert number is not None and result is not None
    assert abs(number["y"] - result["y"]) < 4 and result["x"] > 390 / 2

    phone.goto("/trades")
    shown = _tokens_whole(phone, "#history")
    assert shown.count("4,500원") == 2 and "컬쳐랜드 문화상품권" in shown
    # Amounts right-aligned in the card: their right edge meets the card's inner edge.
    edges = phone.locator("#history tr.trade-row").first.evaluate(
        "row => [row, row.querySelector('.amount')].map(e => e.getBoundingClientRect().right)"
    )
    assert 0 <= edges[0] - edges[1] <= 24
    # From a desktop's width the same list is a table again.
    desk = new_page("ko-KR")
    log_in(desk, seller.email)
    desk.goto("/trades")
    assert desk.locator("#history thead").evaluate("h => getComputedStyle(h).display") == "table-header-group"


@pytest.mark.usefixtures("fresh_texts")
def test_a_held_or_refused_trade_shows_a_real_wait_no_accusation_and_a_way_to_a_person(
    phone: Page, site: Site
) -> None:
    with _operator(site) as operator:
        assert _save_profile(operator, PROFILE).status_code == 303
    profile_cache.forget(site.exchange.ctx)
    become_seller(phone, site)
    held = site.exchange.mint("google-play-kr", 150000)
    take_quote(phone, "google-play-kr", "150000")
    trade_id = submit_voucher(phone, held["code"])
    wait_status(phone, "in_review")
    timeline = phone.inner_text("#timeline")
    assert "1397" not in timeline and "서민금융" not in timeline
    wait = re.search(r"대개 ([0-9]+)분 안에", phone.inner_text("#expected-wait"))
    assert wait is not None and int(wait.group(1)) >= 10
    number = trade_id.replace("-", "")[:8].upper()
    number = f"{number[:4]}-{number[4:]}"
    assert phone.inner_text("#trade-number") == number
    assert phone.get_attribute("#support-call", "href") == "tel:025550199"
    assert phone.get_attribute("#support-kakao", "href") == PROFILE["kakao_channel_url"]
    mail = phone.get_attribute("#support-mail", "href") or ""
    assert mail.startswith("mailto:help@trust.example?subject=") and number in unquote(mail)
    # Tap targets a thumb can hit.
    for button in ("#support-call", "#support-kakao", "#support-mail"):
        box = phone.locator(button).bounding_box()
        assert box is not None and box["height"] >= 44

    refused = site.exchange.mint("cultureland", 10000, state="redeemed")
    take_quote(phone, "cultureland", "10000")
    refused_id = submit_voucher(phone, refused["code"])
    wait_status(phone, "rejected")
    assert phone.inner_text("#trade-number") == labels.trade_number(refused_id)
    # Already used: a real refusal (red), with what to do and whom to ask.
    assert phone.inner_text("#trade-status") == "매입 거절"
    assert phone.get_attribute("#refusal", "class") == "notice bad"
    assert "거래번호와 함께 문의해 주세요" in phone.inner_text("#already-used-help")
    assert phone.inner_text("#support-title") == "이 거래 문의하기"
    # A paid trade needs no such box (a voucher bought a month ago: no cash-out pattern).
    paid = site.exchange.mint("cultureland", 10000, issued_at="2026-11-01T09:00:00+00:00")
    take_quote(phone, "cultureland", "10000")
    submit_voucher(phone, paid["code"])
    wait_status(phone, "paid")
    assert phone.locator("#support").count() == 0


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_changed_seller_pages_pass_axe_on_a_phone_and_weigh_under_200_kb(
    browser: Browser, site: Site, lang: str
) -> None:
    context = browser.new_context(base_url=site.url, viewport=PHONE, bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": lang, "url": site.url}])
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        seller = become_seller(page, site)
        site.exchange.sandbox(
            "POST", "/rail/accounts",
            {"bank_code": "004", "account_number": seller.account_number, "holder_name": seller.legal_name,
             "behavior": "reject"},
        )  # fmt: skip
        take_quote(page, "cultureland", "10000")
        failed = submit_voucher(page, site.exchange.mint("cultureland", 10000)["code"])
        wait_status(page, "failed")
        other = new_account_number()
        holder = {"bank_code": "088", "account_number": other, "holder_name": seller.legal_name}
        site.exchange.sandbox("POST", "/rail/accounts", holder)
        add_bank_account(page, "088", other)
        take_quote(page, "google-play-kr", "150000")
        held = submit_voucher(page, site.exchange.mint("google-play-kr", 150000)["code"])
        wait_status(page, "in_review")
        for path in ("/", "/trades", "/account", f"/trades/{failed}", f"/trades/{held}"):
            answer = page.goto(path)
            assert answer is not None and len(answer.body()) < 200_000, path
            assert violations(page) == [], path
    finally:
        context.close()


def site_message(lang: str, code: str) -> str:
    """What the site says for an error code, in `lang` (the web's own wording)."""
    return forms.message(DomainError(code, ""), lang)


def test_cancelling_removing_and_deleting_ask_first_even_without_javascript(
    browser: Browser, site: Site
) -> None:
    # No JavaScript at all: the confirmation is a page of its own.
    context = browser.new_context(base_url=site.url, viewport=PHONE, java_script_enabled=False)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    js = browser.new_context(base_url=site.url, viewport=PHONE)  # type: ignore[arg-type]
    js.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    try:
        setup = js.new_page()
        seller = become_seller(setup, site)
        other = new_account_number()
        holder = {"bank_code": "088", "account_number": other, "holder_name": seller.legal_name}
        site.exchange.sandbox("POST", "/rail/accounts", holder)
        add_bank_account(setup, "088", other)
        # The acquisition answers are rows a thumb can hit, and tapping the words chooses.
        take_quote(setup, "google-play-kr", "150000")
        for label in setup.locator(".methods label").all():
            box = label.bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] >= 250
        setup.click("label[for='method-gift']")
        assert setup.is_checked("#method-gift")
        voucher = site.exchange.mint("google-play-kr", 150000)
        trade_id = submit_voucher(setup, voucher["code"])
        wait_status(setup, "in_review")

        page = context.new_page()
        log_in(page, seller.email)
        page.goto(f"/trades/{trade_id}")
        page.click("#cancel-trade")
        assert page.inner_text("h1") == "이 거래를 철회할까요?"
        page.click("#confirm-no")  # changed their mind: nothing happened
        assert page.get_attribute("#trade-status", "data-status") == "in_review"
        page.click("#cancel-trade")
        page.click("#confirm-yes")
        assert page.get_attribute("#trade-status", "data-status") == "cancelled"
        assert_voucher_untouched(site.exchange, voucher, 150000)

        page.goto("/account")
        row = page.locator(f"li.account-row:has-text('{other[-4:]}')")
        # "Remove" is on a line of its own, never beside "make default".
        make, remove = (
            row.locator(".make-default").bounding_box(),
            row.locator(".remove-account").bounding_box(),
        )
        assert make is not None and remove is not None and remove["y"] >= make["y"] + make["height"]
        assert remove["height"] >= 44
        row.locator(".remove-account").click()
        assert page.inner_text("h1").endswith(f"••••{other[-4:]} 계좌를 삭제할까요?")
        page.click("#confirm-no")
        assert page.locator(f"li.account-row:has-text('{other[-4:]}')").count() == 1
        page.locator(f"li.account-row:has-text('{other[-4:]}') .remove-account").click()
        page.click("#confirm-yes")
        assert page.locator(f"li.account-row:has-text('{other[-4:]}')").count() == 0

        # Deleting the account asks with the password; a refusal is in view, first on the page.
        held = site.exchange.mint("google-play-kr", 150000)
        take_quote(setup, "google-play-kr", "150000")
        submit_voucher(setup, held["code"])
        wait_status(setup, "in_review")
        page.goto("/account/security")
        # The security page says so before asking anything: no delete button, the reason instead.
        assert page.locator("#delete-account").count() == 0
        assert page.get_attribute("#erasure-blocked", "data-code") == "money_in_flight"
        # Reached directly (a bookmark), the confirmation refuses in view, first on the page.
        page.goto("/account/security/delete")
        assert page.inner_text("h1") == "계정을 삭제할까요?"
        page.fill("#confirm_password", PASSWORD)
        page.click("#confirm-yes")
        error = page.locator("#confirm-error")
        assert error.inner_text() == site_message("ko", "money_in_flight")
        box = error.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
        assert page.url.endswith("/account/security/delete")
    finally:
        context.close()
        js.close()


def test_the_calculators_amount_survives_sign_up(phone: Page, site: Site) -> None:
    calculate(phone, "cultureland", "50000")
    phone.click("text=가입하고 판매하기")
    sign_up(phone, site=site)
    # Straight after sign-up the account page remembers what was calculated.
    assert "컬쳐랜드 문화상품권" in phone.inner_text("#resume-quote")
    assert "50,000원" in phone.inner_text("#resume-quote")
    name = "이서연"
    phone.fill("#legal_name", name)
    phone.fill("#birth_date", "1991-04-12")
    phone.fill("#phone", "010-2345-6789")
    phone.click("form[action='/account/identity'] button[type=submit]")
    account = new_account_number()
    site.exchange.sandbox(
        "POST", "/rail/accounts", {"bank_code": "004", "account_number": account, "holder_name": name}
    )
    add_bank_account(phone, "004", account)
    phone.click("#resume-sell")
    phone.wait_for_url(re.compile(r".*/sell/[0-9a-f-]{36}$"))
    assert phone.inner_text("#quote-payout") == "45,500원"
    phone.goto("/account")
    assert phone.locator("#resume-quote").count() == 0  # taken once


def test_the_one_tap_new_quote_after_a_balance_mismatch_keeps_the_code_off_the_address(
    phone: Page, site: Site
) -> None:
    urls: list[str] = []
    phone.on("request", lambda r: urls.append(r.url))
    seller = become_seller(phone, site)
    voucher = site.exchange.mint("cultureland", 50000, balance=30000, issued_at="2026-11-01T09:00:00+00:00")
    take_quote(phone, "cultureland", "50000")
    submit_voucher(phone, voucher["code"])
    wait_status(phone, "rejected")
    assert phone.locator(".reasons li[data-code='balance_mismatch']").count() == 1
    # An honest case: a neutral label, not the red "매입 거절" of a real refusal.
    assert phone.inner_text("#trade-status") == "매입 안 됨 · 확인 후 다시 시도"
    assert phone.get_attribute("#refusal", "class") == "notice"
    phone.click("#new-quote-offer button")
    phone.wait_for_url(re.compile(r".*/sell/[0-9a-f-]{36}\?again=[0-9a-f-]{36}$"))
    assert voucher["code"][-4:] in phone.inner_text("#same-voucher")
    assert phone.locator("#code").count() == 0  # nothing to type again
    phone.check("#method-gift")
    phone.click("#sell-submit")
    phone.wait_for_url(re.compile(r".*/trades/[0-9a-f-]{36}$"))
    wait_status(phone, "paid")
    assert [t["amount"] for t in site.exchange.rail_transfers(seller.account_number)] == [
        27000
    ]  # 90% of 30,000
    # The code travelled in no address and never came back to the browser.
    assert not [u for u in urls if voucher["code"] in u]
    assert voucher["code"] not in phone.content()


def test_a_failed_holder_check_keeps_the_account_number_without_showing_it(phone: Page, site: Site) -> None:
    seller = become_seller(phone, site)
    other = new_account_number()
    phone.goto("/account")
    phone.select_option("#bank_code", "088")
    phone.fill("#account_number", other)
    phone.click("#check-account")
    # The bank does not know it yet: refused, the number kept (masked on the page, never whole).
    assert phone.locator("#bank-error").count() == 1
    assert f"••••{other[-4:]}" in phone.inner_text("#kept-account")
    assert other not in phone.content()
    assert phone.input_value("#bank_code") == "088"
    holder = {"bank_code": "088", "account_number": other, "holder_name": seller.legal_name}
    site.exchange.sandbox("POST", "/rail/accounts", holder)
    phone.click("#check-account")  # nothing typed again
    phone.wait_for_selector("#holder-check")
    phone.click("#save-account")
    phone.wait_for_url("**/account")
    assert phone.locator(f"li.account-row:has-text('{other[-4:]}')").count() == 1


def test_a_receipt_is_written_for_a_person_and_checked_by_its_number(phone: Page, site: Site) -> None:
    seller = become_seller(phone, site)
    voucher = site.exchange.mint("cultureland", 50000, issued_at="2026-11-01T09:00:00+00:00")
    take_quote(phone, "cultureland", "50000")
    trade_id = submit_voucher(phone, voucher["code"])
    wait_status(phone, "paid")
    phone.goto(f"/trades/{trade_id}/receipt")
    number = labels.trade_number(trade_id)
    assert phone.inner_text("#receipt-number") == number
    assert phone.inner_text("#receipt-seller") == seller.legal_name
    assert phone.inner_text("#receipt-account") == f"KB국민은행 ••••{seller.account_number[-4:]}"
    assert phone.inner_text("#receipt-payout") == "45,500원"
    assert seller.account_number not in phone.content() and voucher["code"] not in phone.content()
    # One tap to check it: by its number and the amount, no JSON to paste.
    phone.click("#receipt-verify-link")
    assert phone.get_attribute("#number-result", "data-valid") == "true"
    assert number in phone.inner_text("#number-result") and "45,500원" in phone.inner_text("#number-result")
    # Anyone holding the paper can check it the same way; a wrong amount finds nothing.
    phone.goto("/receipts/verify")
    phone.fill("#number", number.lower())
    phone.fill("#amount", "45,000")
    phone.click("#verify-number-submit")
    assert phone.get_attribute("#number-result", "data-valid") == "false"


@pytest.mark.usefixtures("fresh_texts")
def test_a_business_number_that_does_not_add_up_is_refused_and_a_valid_one_links_to_the_ftc(
    phone: Page, site: Site
) -> None:
    with _operator(site) as operator:
        refused = _save_profile(operator, {**PROFILE, "registration_number": "123-45-6789"})
        assert refused.status_code == 422 and "10 digits" in refused.text
        assert _save_profile(operator, {**PROFILE, "registration_number": "1234567891"}).status_code == 303
    profile_cache.forget(site.exchange.ctx)
    phone.goto("/")
    assert phone.inner_text("#biz-registration").startswith("123-45-67891")
    assert (
        phone.get_attribute("#biz-check", "href") == "https://www.ftc.go.kr/bizCommPop.do?wrkr_no=1234567891"
    )
    assert phone.inner_text("#biz-check") == "사업자정보 확인"


def test_small_things_a_korean_seller_notices(phone: Page, site: Site) -> None:
    seller = become_seller(phone, site)
    # The holder check's success is drawn as a success, not a warning.
    other = new_account_number()
    holder = {"bank_code": "088", "account_number": other, "holder_name": seller.legal_name}
    site.exchange.sandbox("POST", "/rail/accounts", holder)
    phone.goto("/account")
    phone.select_option("#bank_code", "088")
    phone.fill("#account_number", other)
    phone.click("#check-account")
    assert phone.get_attribute("#holder-check", "class") == "notice good"
    phone.click("#save-account")
    phone.wait_for_url("**/account")
    # "기본값" stands apart from "확인됨".
    row = phone.locator("li.account-row").filter(has=phone.locator(".default-badge"))
    gap = row.evaluate(
        "r => r.querySelector('.default-badge').getBoundingClientRect().left"
        " - r.querySelector('.ok').getBoundingClientRect().right"
    )
    assert gap >= 4
    voucher = site.exchange.mint("cultureland", 50000, issued_at="2026-11-01T09:00:00+00:00")
    take_quote(phone, "cultureland", "50000")
    assert phone.inner_text("#quote-payout") == "45,500원"  # as Korean sellers write it
    submit_voucher(phone, voucher["code"])
    wait_status(phone, "paid")
    assert phone.inner_text("#paid-account") == f"입금 계좌: KB국민은행 ••••{seller.account_number[-4:]}"
    # Each step's time is distinct (to the second), not seven times the same minute.
    times = phone.locator(".timeline time").all_inner_texts()
    assert len(times) == 7 and re.search(r"[0-9]+:[0-9]{2}:[0-9]{2}$", times[0])
    assert all(re.fullmatch(r"\+[0-9.]+(초|분)", t) for t in times[1:])
    assert not re.search(r"[A-Za-z]", phone.inner_text("#timeline").replace("KB", ""))
