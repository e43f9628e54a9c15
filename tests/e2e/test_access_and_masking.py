"""Single-use quotes, roles, and secrets masked in every response."""

from __future__ import annotations

from tests.support.assertions import assert_voucher_untouched
from tests.support.exchange import Exchange, Seller


def test_a_quote_is_used_once(exchange: Exchange, seller: Seller) -> None:
    quote = seller.quote()
    spare = exchange.mint()
    first = seller.api.post("/trades", seller.trade_body(quote["id"], exchange.mint()["code"]))
    second = seller.api.post("/trades", seller.trade_body(quote["id"], spare["code"]))
    assert first.status_code == 202
    assert (second.status_code, second.json()["error"]["code"]) == (409, "quote_used")
    assert len(seller.api.get("/trades").json()["trades"]) == 1
    assert_voucher_untouched(exchange, spare, 50000)


def test_sellers_cannot_reach_staff_endpoints(seller: Seller) -> None:
    for path in ("/review/trades", "/ledger/balances"):
        response = seller.api.get(path)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
    response = seller.api.post("/review/trades/x/decision", {"outcome": "approve", "note": "ok"})
    assert response.status_code == 403


def test_the_operator_reads_balanced_books(exchange: Exchange, seller: Seller) -> None:
    seller.api.wait_for(seller.sell(exchange.mint()))
    accounts = exchange.operator().get("/ledger/balances").json()["accounts"]
    assert sum(a["balance"] for a in accounts if a["currency"] == "KRW") == 0
    mine = [a for a in accounts if a["account"].startswith("seller_payable:")]
    assert mine and all(a["kind"] == "seller_payable" for a in mine)
    queue = exchange.operator().get("/review/trades").json()
    assert set(queue) == {"trades", "total", "oldest_age_seconds"}
    assert queue["total"] == len(queue["trades"])


def test_codes_and_account_numbers_never_come_back(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("booknlife", 10000)
    trade_id = seller.sell(voucher, "booknlife", 10000)
    seller.api.wait_for(trade_id)
    texts = [
        seller.api.get(f"/trades/{trade_id}").text,
        seller.api.get("/trades").text,
        seller.api.get("/me/payout-destinations").text,
        seller.api.get("/me").text,
    ]
    for text in texts:
        assert voucher["code"] not in text and voucher["code"][:12] not in text
        assert seller.account_number not in text
    assert seller.api.get(f"/trades/{trade_id}").json()["voucher"] == {
        "masked": "••••" + voucher["code"][-4:]
    }


def test_me_shows_tier_and_remaining_limits(exchange: Exchange, seller: Seller) -> None:
    me = seller.api.get("/me").json()
    assert (me["kyc_tier"], me["identity_status"], me["roles"]) == (1, "verified", [])
    assert me["limits"] == {
        "daily_remaining": {"amount": 1_000_000, "currency": "KRW"},
        "monthly_remaining": {"amount": 3_000_000, "currency": "KRW"},
    }
    seller.api.wait_for(seller.sell(exchange.mint()))
    assert seller.api.get("/me").json()["limits"]["daily_remaining"] == {"amount": 950_000, "currency": "KRW"}


def test_the_catalog_lists_this_deployments_brands(exchange: Exchange) -> None:
    brands = {b["slug"]: b for b in exchange.client().get("/brands").json()["brands"]}
    assert set(brands) == {"booknlife", "cultureland", "google-play-kr", "happymoney", "lotte", "shinsegae"}
    assert brands["happymoney"]["status"] == "suspended"
    assert brands["cultureland"]["rates"] == [
        {"min_face": 0, "rate_bps": 9000},
        {"min_face": 50000, "rate_bps": 9100},
    ]
    assert brands["booknlife"]["code"] == {
        "length": 16,
        "alphabet": "digits",
        "pin_required": True,
        "pin_length": 4,
    }


def test_openapi_and_docs_are_served(exchange: Exchange) -> None:
    spec = exchange.client().http.get(exchange.base_url + "/openapi.json").json()
    assert {"/api/v1/trades", "/api/v1/quotes", "/api/v1/review/trades/{trade_id}/decision"} <= set(
        spec["paths"]
    )
    assert exchange.client().http.get(exchange.base_url + "/docs").status_code == 200
