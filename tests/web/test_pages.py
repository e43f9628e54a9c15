"""Every page answers in both languages, with its words translated, and errors are pages too."""

from __future__ import annotations

import httpx
import pytest

from tests.support.exchange import make_seller
from tests.web.conftest import Site
from tests.web.test_security import PASSWORD, _log_in
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD

SELLER_PAGES = {
    "/": "What we pay",
    "/account": "Your account",
    "/sell/batch": "Sell many vouchers",
    "/trades": "My trades",
    "/account/developers": "Webhook endpoints",
}
KOREAN = {
    "/": "매입 시세",
    "/account": "내 계정",
    "/sell/batch": "상품권 여러 장 판매",
    "/trades": "내 거래",
    "/account/developers": "웹훅 엔드포인트",
}
STAFF_PAGES = {
    "/staff": ("Last 30 days", "최근 30일"),
    "/staff/review": ("Review queue", "검토 대기열"),
    "/staff/brands": ("Brands and rates", "상품권과 매입률"),
    "/staff/brands/cultureland": ("Rate history", "매입률 이력"),
    "/staff/ledger": ("Accounts", "계정"),
    "/staff/payouts": ("Payouts and treasury", "지급과 자금"),
    "/staff/audit": ("Audit log", "감사 기록"),
    "/staff/team": ("Staff and roles", "직원과 권한"),
    "/staff/issuers": ("Exposure per day, last 30 days", "최근 30일 일별 미정산 금액"),
}


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_seller_and_staff_pages_render_in_both_languages(site: Site, lang: str) -> None:
    seller = make_seller(site.exchange)
    with httpx.Client(base_url=site.url, cookies={"vx_lang": lang}, timeout=20) as client:
        _log_in(client, seller.email, PASSWORD)
        for path, english in SELLER_PAGES.items():
            response = client.get(path)
            assert response.status_code == 200, path
            assert (english if lang == "en" else KOREAN[path]) in response.text, path
            assert f'<html lang="{lang}">' in response.text
    with httpx.Client(base_url=site.url, cookies={"vx_lang": lang}, timeout=20) as client:
        _log_in(client, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
        for path, words in STAFF_PAGES.items():
            response = client.get(path)
            assert response.status_code == 200, path
            assert words[0 if lang == "en" else 1] in response.text, path


def test_unknown_pages_and_bad_input_get_a_page_not_a_crash(site: Site) -> None:
    with httpx.Client(base_url=site.url, cookies={"vx_lang": "en"}, timeout=20) as client:
        missing = client.get("/no/such/page")
        assert missing.status_code == 404 and "Not found" in missing.text and "<html" in missing.text
        calc = client.get("/calculator", params={"brand": "cultureland", "face": "12,345"})
        assert calc.status_code == 200 and "This brand is not sold in that face value." in calc.text
        calc = client.get("/calculator", params={"brand": "nope", "face": "1"})
        assert calc.status_code == 200 and "Choose a brand from the list." in calc.text
        # The API keeps answering in JSON.
        api = client.get("/api/v1/trades/x")
        assert (
            api.headers["content-type"] == "application/json"
            and api.json()["error"]["code"] == "unauthorized"
        )


def test_the_reviewer_sees_accounts_sharing_the_device(site: Site) -> None:
    first, second = make_seller(site.exchange), make_seller(site.exchange)
    device = {"X-Device-Id": "shared-phone-7"}
    quote = first.quote("cultureland", 5000)
    voucher = site.exchange.mint("cultureland", 5000)
    body = first.trade_body(quote["id"], voucher["code"])
    assert first.api.post("/trades", body, headers=device).status_code == 202
    held_quote = second.quote("google-play-kr", 150000)
    held = site.exchange.mint("google-play-kr", 150000)
    response = second.api.post("/trades", second.trade_body(held_quote["id"], held["code"]), headers=device)
    trade = second.api.wait_for(response.json()["id"])
    assert trade["status"] == "in_review"
    with httpx.Client(base_url=site.url, cookies={"vx_lang": "en"}, timeout=20) as client:
        _log_in(client, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
        page = client.get(f"/staff/review/{trade['id']}").text
    shared = page.split('id="linked-device"')[1].split("</ul>")[0]
    assert first.email in shared and second.email not in shared
    assert held["code"] not in page
