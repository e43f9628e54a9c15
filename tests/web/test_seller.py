"""A seller on the site: calculator, sign-up to paid, receipts, history, carrier-billing refusal, batch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Request
from sqlalchemy import func, select

from tests.support.assertions import assert_no_money_for, assert_nothing_moved, assert_voucher_untouched
from tests.support.polling import poll_until
from tests.web.conftest import Site, screenshot
from tests.web.flows import become_seller, calculate, submit_voucher, take_quote, trade_mails, wait_status
from voucher_exchange.db.schema import trades, users

pytestmark = pytest.mark.browser


def _trades_of(site: Site, email: str) -> int:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return int(
            uow.conn.execute(
                select(func.count()).select_from(trades).join(users, users.c.id == trades.c.user_id)
                .where(users.c.email == email)
            ).scalar_one()
        )  # fmt: skip


def test_a_seller_sells_a_voucher_and_sees_it_paid_with_the_right_amount(page: Page, site: Site) -> None:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    seller = become_seller(page, site)
    voucher = site.exchange.mint("cultureland", 50000)

    payout_text = calculate(page, "cultureland", "50,000")
    assert page.inner_text("#calc-fee") == "₩4,500 (9%)"
    screenshot(page, "seller-desktop-calculator")
    take_quote(page, "cultureland", "50000")
    assert page.inner_text("#quote-payout") == payout_text == "₩45,500"
    trade_id = submit_voucher(page, voucher["code"])
    wait_status(page, "paid")
    assert page.inner_text("#paid-message") == "₩45,500 was sent to your bank account."
    screenshot(page, "seller-desktop-paid")

    transfers = site.exchange.rail_transfers(seller.account_number)
    assert [(t["amount"], t["currency"]) for t in transfers] == [(45500, "KRW")]
    assert site.exchange.lookup(voucher["code"])["state"] == "redeemed"
    # The code travelled only in a POST body: never in an address.
    assert not [u for u in urls if voucher["code"] in u]

    page.click("text=Receipt")
    page.wait_for_url(f"**/trades/{trade_id}/receipt")
    assert page.inner_text("#receipt-payout") == "₩45,500"
    assert voucher["code"] not in page.content() and voucher["code"][-4:] in page.content()

    mail = poll_until(lambda: trade_mails(site, seller.email) or None, 15, what="the paid e-mail")
    assert mail[0]["Subject"] == "Paid: ₩45,500 is on its way to your bank"
    assert voucher["code"] not in mail[0].get_content()


def test_history_filters_by_status_and_brand(page: Page, site: Site) -> None:
    become_seller(page, site)
    paid = site.exchange.mint("cultureland", 10000)
    take_quote(page, "cultureland", "10000")
    submit_voucher(page, paid["code"])
    wait_status(page, "paid")
    refused = site.exchange.mint("cultureland", 5000, state="redeemed")
    take_quote(page, "cultureland", "5000")
    submit_voucher(page, refused["code"])
    wait_status(page, "rejected")

    page.goto("/trades")
    assert page.locator("tbody tr").count() == 2
    page.select_option("#f-status", "paid")
    page.click("form.filters button")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and "₩10,000" in rows.first.inner_text()
    page.goto("/trades?brand=booknlife")
    assert page.locator("tbody tr").count() == 0


def test_the_carrier_billing_refusal_is_explained_in_korean_and_english(
    page: Page, phone: Page, site: Site
) -> None:
    for browser_page, lang in ((page, "en"), (phone, "ko")):
        seller = become_seller(browser_page, site)
        # The issuer reports the voucher was paid with phone billing; the seller declares a gift.
        voucher = site.exchange.mint("cultureland", 30000, purchase_channel="carrier_billing")
        take_quote(browser_page, "cultureland", "30000")
        # The explanation is on the form before anyone chooses.
        notice = browser_page.inner_text("#carrier-billing-notice")
        assert "1397" in notice and "1332" in notice
        trade_id = submit_voucher(browser_page, voucher["code"], method="gift")
        wait_status(browser_page, "rejected")
        refusal = browser_page.inner_text("#timeline")
        if lang == "en":
            assert "We did not buy this voucher." in refusal
            assert "We never buy vouchers paid for with mobile carrier billing." in refusal
        else:
            assert "이 상품권은 매입하지 않았습니다." in refusal
            assert "휴대폰 소액결제로 구매한 상품권은 매입하지 않습니다." in refusal
        assert "☎1397" in refusal and "☎1332" in refusal
        assert browser_page.locator(".reasons li[data-code='carrier_billing_prohibited']").count() == 1
        # Nothing moved: no ledger transfer, no payout, no bank transfer, the voucher untouched.
        assert_nothing_moved(site.exchange, seller, trade_id, voucher, face_value=30000)
        # The e-mail is in the seller's language too.
        mail = poll_until(
            lambda to=seller.email: trade_mails(site, to) or None, 15, what="the refusal e-mail"
        )
        subject = {
            "en": "We could not buy your Cultureland Gift Voucher",
            "ko": "컬쳐랜드 문화상품권을 매입하지 못했습니다",
        }
        assert mail[0]["Subject"] == subject[lang]
        assert ("☎1397" in mail[0].get_content()) and trade_id in mail[0].get_content()
    screenshot(phone, "seller-phone-refused-ko")


def _preview_batch(page: Page, face: str, method: str = "gift") -> None:
    page.select_option("#brand", "cultureland")
    page.fill("#face", face)
    page.select_option("#method", method)
    page.click("#batch-preview")
    page.wait_for_selector("#sell-all")


def test_selling_many_previews_then_sells_once_with_live_lines_and_one_summary(
    page: Page, site: Site
) -> None:
    seller = become_seller(page, site)
    good = [site.exchange.mint("cultureland", 5000) for _ in range(2)]
    page.goto("/sell/batch")
    page.fill("#codes", f"code,pin\n{good[0]['code']}\nnot-a-code\n{good[1]['code']}\n")
    # The acquisition is a choice the seller makes: nothing is preselected.
    assert page.input_value("#method") == ""
    _preview_batch(page, "5,000원")
    assert [page.inner_text(f"#preview-{k}") for k in ("count", "face", "fee", "payout")] == [
        "3", "₩15,000", "₩1,500 (10%)", "₩13,500",
    ]  # fmt: skip
    assert _trades_of(site, seller.email) == 0  # a preview sells nothing
    page.click("#sell-all")
    page.wait_for_url(re.compile(r".*/sell/batch/[0-9a-f-]{36}$"))
    results_url = page.url
    lines = page.locator("tr.batch-line")
    assert lines.count() == 3
    assert "does not look like a voucher of this brand" in lines.nth(1).inner_text()
    # Live per line: the page polls until both trades are paid.
    page.wait_for_selector("#batch-settled", timeout=25_000)
    assert [lines.nth(i).get_attribute("data-status") for i in range(3)] == ["paid", "not_accepted", "paid"]
    # A reload never sells again, nor does sending the "sell all" form a second time.
    page.reload()
    page.wait_for_selector("#batch-settled")
    assert _trades_of(site, seller.email) == 2
    answer = page.request.post(
        results_url, form={"csrf_token": page.input_value("input[name=csrf_token]")}, max_redirects=0
    )
    assert (answer.status, answer.headers["location"]) == (303, results_url.replace(site.url, ""))
    assert _trades_of(site, seller.email) == 2
    transfers = site.exchange.rail_transfers(seller.account_number)
    assert sorted(t["amount"] for t in transfers) == [4500, 4500]
    # One e-mail for the batch, not one per line.
    mail = poll_until(lambda: trade_mails(site, seller.email) or None, 15, what="the batch summary")
    assert [m["Subject"] for m in mail] == ["Your 3 vouchers: 2 paid, 1 not bought"]
    body = mail[0].get_content()
    assert "Paid: 2. We sent ₩9,000 to your bank account." in body and "Not bought: 1." in body

    # The same from a CSV file (code,pin columns), here with a code sold before.
    fresh = site.exchange.mint("cultureland", 5000)
    csv = f"code,pin\n{fresh['code']},\n{good[0]['code']},\n".encode()
    page.goto("/sell/batch")
    page.set_input_files("#file", {"name": "vouchers.csv", "mimeType": "text/csv", "buffer": csv})
    _preview_batch(page, "5000")
    page.click("#sell-all")
    page.wait_for_url(re.compile(r".*/sell/batch/[0-9a-f-]{36}$"))
    assert page.locator("tr.batch-line").count() == 2
    # A line held for a person: the page says how long reviews take.
    assert "Reviews currently take about" in page.inner_text("#expected-wait", timeout=25_000)
    links = [page.locator("tr.batch-line a").nth(i).get_attribute("href") for i in range(2)]
    page.goto(str(links[1]))
    wait_status(page, "rejected")
    assert page.locator(".reasons li[data-code='duplicate_voucher']").count() == 1
    assert_no_money_for(site.exchange, str(links[1]).rsplit("/", 1)[1])
    page.goto(str(links[0]))
    # Fresh vouchers sold again and again look like cash-out: the engine holds the fourth for a person.
    wait_status(page, "in_review")
    assert page.locator(".reasons li").first.get_attribute("data-code") == "fresh_voucher_pattern"
    assert len(site.exchange.rail_transfers(seller.account_number)) == 2
    assert _trades_of(site, seller.email) == 4


def test_a_batch_paid_with_phone_billing_is_stopped_before_the_preview(phone: Page, site: Site) -> None:
    seller = become_seller(phone, site)
    voucher = site.exchange.mint("cultureland", 5000)
    phone.goto("/sell/batch")
    phone.fill("#codes", voucher["code"])
    phone.fill("#face", "5000")
    phone.select_option("#method", "carrier_billing")
    assert "휴대폰 소액결제로 산 상품권은 매입할 수 없습니다." in phone.inner_text("#carrier-stop")
    assert phone.is_disabled("#batch-preview")
    assert _trades_of(site, seller.email) == 0
    assert_voucher_untouched(site.exchange, voucher, 5000)


def test_no_page_weighs_over_200_kb_on_first_load(page: Page, site: Site) -> None:
    become_seller(page, site)
    for path in ("/", "/account", "/sell/batch", "/trades", "/login"):
        weights: list[int] = []

        def weigh(request: Request, into: list[int] = weights) -> None:
            sizes = request.sizes()
            into.append(sizes["responseBodySize"] + sizes["responseHeadersSize"])

        fresh = page.context.browser.new_context(base_url=site.url)  # type: ignore[union-attr]
        fresh.add_cookies(page.context.cookies())
        first = fresh.new_page()
        first.on("requestfinished", weigh)
        first.goto(path, wait_until="networkidle")
        fresh.close()
        assert 0 < sum(weights) < 200_000, (path, weights)
