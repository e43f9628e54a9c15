"""Refusals that are not about fraud do not burn a code; a held trade can be withdrawn (real HTTP)."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.support.assertions import assert_no_money_for, assert_nothing_moved, reason_codes
from tests.support.exchange import Exchange, Seller
from voucher_exchange.db.schema import voucher_claims


def _claims(exchange: Exchange, trade_id: str) -> int:
    with exchange.ctx.uow(readonly=True) as uow:
        return int(
            uow.conn.execute(
                select(func.count()).select_from(voucher_claims).where(voucher_claims.c.trade_id == trade_id)
            ).scalar_one()
        )


def test_a_partial_balance_releases_the_code_and_offers_a_quote_at_the_real_balance(
    exchange: Exchange, seller: Seller
) -> None:
    voucher = exchange.mint("cultureland", 50000, balance=30000)
    refused = seller.api.wait_for(seller.sell(voucher, "cultureland", 50000))

    assert refused["status"] == "rejected"
    assert reason_codes(refused) == ["balance_mismatch"]
    assert refused["new_quote_offer"] == {
        "brand": "cultureland",
        "face_value": {"amount": 30000, "currency": "KRW"},
    }
    assert _claims(exchange, refused["id"]) == 0
    assert_nothing_moved(exchange, seller, refused["id"], voucher, face_value=30000)

    again = seller.api.wait_for(seller.sell(voucher, "cultureland", 30000), timeout=30)
    assert again["status"] == "paid"
    assert again["payout"] == {"amount": 27000, "currency": "KRW"}
    assert [(t["amount"], t["status"]) for t in exchange.rail_transfers(seller.account_number)] == [
        (27000, "executed")
    ]


def test_a_fraud_refusal_keeps_the_code_claimed(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("cultureland", 50000)
    declared = seller.api.wait_for(seller.sell(voucher, method="carrier_billing"))
    assert reason_codes(declared) == ["carrier_billing_prohibited"]
    assert _claims(exchange, declared["id"]) == 1

    as_gift = seller.api.wait_for(seller.sell(voucher, method="gift"))
    assert reason_codes(as_gift) == ["duplicate_voucher"]
    assert_nothing_moved(exchange, seller, as_gift["id"], voucher)


def test_a_held_trade_can_be_withdrawn_and_the_code_sold_again(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("google-play-kr", 150000)
    held = seller.api.wait_for(seller.sell(voucher, "google-play-kr", 150000))
    assert held["status"] == "in_review"
    assert held["can_cancel"] is True
    assert isinstance(held["expected_review_minutes"], int) and held["expected_review_minutes"] >= 1

    withdrawn = seller.api.post(f"/trades/{held['id']}/cancel")
    assert withdrawn.status_code == 200, withdrawn.text
    body = withdrawn.json()
    assert body["status"] == "cancelled"
    assert body["events"][-1]["note"] == "withdrawn by the seller during review"
    assert _claims(exchange, held["id"]) == 0
    assert_nothing_moved(exchange, seller, held["id"], voucher, face_value=150000)
    queue = exchange.operator().get("/review/trades").json()["trades"]
    assert held["id"] not in [t["id"] for t in queue]

    decided = exchange.operator().post(
        f"/review/trades/{held['id']}/decision", {"outcome": "approve", "note": "too late"}
    )
    assert (decided.status_code, decided.json()["error"]["code"]) == (409, "trade_not_in_review")
    assert_no_money_for(exchange, held["id"])
