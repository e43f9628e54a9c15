"""Every refusal of the pipeline ends `rejected` with its stable code, and nothing moved."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.assertions import (
    assert_no_money_for,
    assert_nothing_moved,
    assert_voucher_untouched,
    reason_codes,
)
from tests.support.exchange import Exchange, Seller, make_seller, new_account, new_account_number
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.db.schema import quotes, seller_flags


def test_carrier_billing_declared_is_refused_and_the_voucher_is_never_touched(
    exchange: Exchange, seller: Seller
) -> None:
    voucher = exchange.mint("cultureland", 50000)
    trade = seller.api.wait_for(seller.sell(voucher, method="carrier_billing"))
    assert trade["status"] == "rejected"
    assert reason_codes(trade) == ["carrier_billing_prohibited"]
    assert "☎1397" in trade["decision"]["reasons"][0]["message"]
    assert_nothing_moved(exchange, seller, trade["id"], voucher)


def test_carrier_billing_refusal_speaks_korean(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("cultureland", 50000)
    trade_id = seller.sell(voucher, method="carrier_billing")
    seller.api.wait_for(trade_id)
    trade = seller.api.get(f"/trades/{trade_id}", headers={"Accept-Language": "ko-KR"}).json()
    message = trade["decision"]["reasons"][0]["message"]
    assert message.startswith("휴대폰 소액결제로 구매한 상품권은 매입하지 않습니다.")
    assert "서민금융진흥원(☎1397)" in message and "금융감독원(☎1332)" in message
    assert_nothing_moved(exchange, seller, trade_id, voucher)


def test_carrier_billing_reported_by_the_issuer_is_refused_whatever_was_declared(
    exchange: Exchange, seller: Seller
) -> None:
    voucher = exchange.mint("cultureland", 50000, purchase_channel="carrier_billing")
    trade = seller.api.wait_for(seller.sell(voucher, method="gift"))
    assert trade["status"] == "rejected"
    assert reason_codes(trade) == ["carrier_billing_prohibited"]
    assert_nothing_moved(exchange, seller, trade["id"], voucher)
    with exchange.ctx.uow(readonly=True) as uow:
        flags = uow.conn.execute(
            select(seller_flags.c.kind, seller_flags.c.details).where(seller_flags.c.trade_id == trade["id"])
        ).all()
    assert [tuple(f) for f in flags] == [
        ("false_acquisition_declaration", {"declared": "gift", "issuer_channel": "carrier_billing"})
    ]


def test_a_code_sold_once_is_refused_to_anyone_after(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("cultureland", 50000)
    first = seller.api.wait_for(seller.sell(voucher))
    assert first["status"] == "paid"
    other = make_seller(exchange)
    # Same code, typed with separators: still the same voucher.
    spaced = {"code": "-".join(voucher["code"][i : i + 4] for i in range(0, 16, 4))}
    trade = other.api.wait_for(other.sell(spaced))
    assert trade["status"] == "rejected"
    assert reason_codes(trade) == ["duplicate_voucher"]
    assert_nothing_moved(exchange, other, trade["id"], None)
    assert len(exchange.rail_transfers(seller.account_number)) == 1


@pytest.mark.parametrize(
    ("mint", "code"),
    [
        ({"state": "redeemed"}, "voucher_already_redeemed"),
        ({"state": "expired"}, "voucher_expired"),
        ({"state": "blocked"}, "voucher_blocked"),
        ({"balance": 30000}, "balance_mismatch"),
    ],
)
def test_issuer_answers_refuse_the_trade(
    exchange: Exchange, seller: Seller, mint: dict[str, object], code: str
) -> None:
    voucher = exchange.mint("cultureland", 50000, **mint)
    before = exchange.lookup(voucher["code"])
    trade = seller.api.wait_for(seller.sell(voucher))
    assert trade["status"] == "rejected"
    assert reason_codes(trade) == [code]
    assert_nothing_moved(exchange, seller, trade["id"], None)
    assert exchange.lookup(voucher["code"]) == before


def test_a_code_the_issuer_does_not_know_is_invalid(exchange: Exchange, seller: Seller) -> None:
    unknown = {"code": "4111111111111111"}  # well-formed (Luhn-valid) but never issued
    trade = seller.api.wait_for(seller.sell(unknown))
    assert trade["status"] == "rejected"
    assert reason_codes(trade) == ["voucher_invalid"]
    assert_nothing_moved(exchange, seller, trade["id"], None)


def test_a_brand_suspended_after_the_quote_is_refused(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("lotte", 50000)
    quote = seller.quote("lotte", 50000)
    with exchange.ctx.uow() as uow:
        catalog.set_status(uow.conn, "lotte", BrandStatus.SUSPENDED, exchange.ctx.clock.now())
        uow.commit()
    try:
        response = seller.api.post("/trades", seller.trade_body(quote["id"], voucher["code"]))
        trade = seller.api.wait_for(response.json()["id"])
        assert trade["status"] == "rejected"
        assert reason_codes(trade) == ["brand_suspended"]
        assert_nothing_moved(exchange, seller, trade["id"], voucher)
    finally:
        with exchange.ctx.uow() as uow:
            catalog.set_status(uow.conn, "lotte", BrandStatus.ACTIVE, exchange.ctx.clock.now())
            uow.commit()


def test_a_suspended_brand_gets_no_quote(exchange: Exchange, seller: Seller) -> None:
    response = seller.api.post(
        "/quotes", {"brand": "happymoney", "face_value": {"amount": 10000, "currency": "KRW"}}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "brand_suspended"
    with exchange.ctx.uow(readonly=True) as uow:
        stored = uow.conn.execute(
            select(func.count()).select_from(quotes).where(quotes.c.brand_slug == "happymoney")
        ).scalar_one()
    assert stored == 0


def _unverified_seller(exchange: Exchange, identity: dict[str, str] | None) -> Seller:
    api, email = new_account(exchange)
    name = "Lee Jiho"
    if identity is not None:
        api.post("/me/identity", identity)
    account = new_account_number()
    exchange.sandbox(
        "POST", "/rail/accounts", {"bank_code": "004", "account_number": account, "holder_name": name}
    )
    dest = api.post(
        "/me/payout-destinations",
        {"kind": "bank_account", "bank_code": "004", "account_number": account, "holder_name": name},
    )
    assert dest.status_code == 201 and dest.json()["status"] == "rejected"
    return Seller(api, email, dest.json()["id"], account, name)


def test_a_seller_without_identity_is_refused(exchange: Exchange) -> None:
    seller = _unverified_seller(exchange, None)
    assert seller.api.get("/me").json()["kyc_tier"] == 0
    voucher = exchange.mint("cultureland", 50000)
    trade = seller.api.wait_for(seller.sell(voucher))
    assert reason_codes(trade) == ["kyc_required"]
    assert_nothing_moved(exchange, seller, trade["id"], voucher)


def test_an_underage_seller_is_refused(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    eighteen = exchange.ctx.clock.now().date().replace(year=exchange.ctx.clock.now().year - 18).isoformat()
    response = api.post(
        "/me/identity", {"legal_name": "Lee Jiho", "birth_date": eighteen, "phone": "01012345678"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "underage"
    seller = _unverified_seller(
        exchange, {"legal_name": "Lee Jiho", "birth_date": eighteen, "phone": "01012345678"}
    )
    voucher = exchange.mint("cultureland", 50000)
    trade = seller.api.wait_for(seller.sell(voucher))
    assert reason_codes(trade) == ["underage"]
    assert_nothing_moved(exchange, seller, trade["id"], voucher)


def test_a_bank_account_in_another_name_is_refused(exchange: Exchange, seller: Seller) -> None:
    account = new_account_number()
    exchange.sandbox(
        "POST",
        "/rail/accounts",
        {"bank_code": "004", "account_number": account, "holder_name": "Park Someone"},
    )
    dest = seller.api.post(
        "/me/payout-destinations",
        {
            "kind": "bank_account",
            "bank_code": "004",
            "account_number": account,
            "holder_name": "Park Someone",
        },
    )
    assert dest.status_code == 201
    assert dest.json() == {"id": dest.json()["id"], "status": "rejected", "masked": "••••" + account[-4:]}
    seller.destination_id = dest.json()["id"]
    voucher = exchange.mint("cultureland", 50000)
    trade = seller.api.wait_for(seller.sell(voucher))
    assert reason_codes(trade) == ["payout_destination_mismatch"]
    assert_nothing_moved(exchange, seller, trade["id"], voucher)
    assert exchange.rail_transfers(account) == []


def test_the_daily_limit_refuses_the_sale_that_would_cross_it(exchange: Exchange, seller: Seller) -> None:
    for _ in range(2):
        paid = seller.api.wait_for(seller.sell(exchange.mint("shinsegae", 500000), "shinsegae", 500000))
        assert paid["status"] == "paid"
    assert seller.api.get("/me").json()["limits"]["daily_remaining"] == {"amount": 0, "currency": "KRW"}
    paid_before = exchange.rail_transfers(seller.account_number)
    voucher = exchange.mint("shinsegae", 10000)
    trade = seller.api.wait_for(seller.sell(voucher, "shinsegae", 10000))
    assert reason_codes(trade) == ["limit_exceeded"]
    assert exchange.rail_transfers(seller.account_number) == paid_before
    assert_no_money_for(exchange, trade["id"])
    assert_voucher_untouched(exchange, voucher, 10000)


def test_an_expired_quote_is_refused_at_submission(
    exchange: Exchange, seller: Seller, shift_clock: object
) -> None:
    voucher = exchange.mint("cultureland", 50000)
    quote = seller.quote("cultureland", 50000)
    shift_clock(15 * 60)  # type: ignore[operator]
    response = seller.api.post("/trades", seller.trade_body(quote["id"], voucher["code"]))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "quote_expired"
    assert seller.api.get("/trades").json()["trades"] == []
    assert_nothing_moved(exchange, seller, None, voucher)


def test_cancel_before_verification_only(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("cultureland", 50000)
    trade = seller.api.wait_for(seller.sell(voucher))
    response = seller.api.post(f"/trades/{trade['id']}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "trade_not_cancellable"
    # The refused cancel undid nothing: still paid, paid once.
    assert seller.api.get(f"/trades/{trade['id']}").json()["status"] == "paid"
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]


def test_nobody_else_sees_my_trade(exchange: Exchange, seller: Seller) -> None:
    trade_id = seller.sell(exchange.mint("cultureland", 50000))
    seller.api.wait_for(trade_id)
    stranger, _ = new_account(exchange)
    response = stranger.get(f"/trades/{trade_id}")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "trade_unknown")
    assert stranger.get("/trades").json() == {"trades": []}
    assert httpx.get(exchange.base_url + f"/api/v1/trades/{trade_id}").status_code == 401
