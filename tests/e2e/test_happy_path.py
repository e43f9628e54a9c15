"""A seller sells a voucher and is paid exactly the quoted payout, once."""

from __future__ import annotations

import pytest

from tests.support.exchange import Exchange, Seller
from voucher_exchange.reconcile import service as reconcile_service

pytestmark = pytest.mark.both_backends

PAID_PATH = ["received", "screening", "verifying", "redeeming", "credited", "paying_out", "paid"]


def test_a_voucher_sold_is_paid_once_at_the_quoted_amount(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("cultureland", 50000)
    quote = seller.quote("cultureland", 50000)
    assert quote["face_value"] == {"amount": 50000, "currency": "KRW"}
    assert quote["rate_bps"] == 9100
    assert quote["fee"] == {"amount": 4500, "currency": "KRW"}
    assert quote["payout"] == {"amount": 45500, "currency": "KRW"}

    response = seller.api.post("/trades", seller.trade_body(quote["id"], voucher["code"]))
    assert response.status_code == 202
    assert response.json()["status"] == "received"
    trade = seller.api.wait_for(response.json()["id"])

    assert trade["status"] == "paid"
    assert [e["status"] for e in trade["events"]] == PAID_PATH
    assert all(e["at"].endswith("Z") for e in trade["events"])
    assert trade["payout"] == {"amount": 45500, "currency": "KRW"}
    assert trade["voucher"] == {"masked": "••••" + voucher["code"][-4:]}
    assert trade["decision"]["outcome"] == "approve"

    transfers = exchange.rail_transfers(seller.account_number)
    assert [(t["amount"], t["currency"], t["status"]) for t in transfers] == [(45500, "KRW", "executed")]
    assert exchange.lookup(voucher["code"]) == {
        **exchange.lookup(voucher["code"]),
        "state": "redeemed",
        "balance": 0,
        "redeemed_by": trade["id"],
    }
    with exchange.ctx.uow(readonly=True) as uow:
        found = reconcile_service.trade_transfers(uow.conn, trade["id"])
        report = reconcile_service.verify(uow.conn)
    assert [(t.amount.amount, t.phase.value, t.memo) for t in found] == [
        (45500, "single", "voucher secured: seller credited"),
        (4500, "single", "exchange fee"),
        (45500, "pending", "payout sent to rail"),
        (45500, "post", "rail executed"),
    ]
    assert report.violations == []


def test_a_voucher_with_a_pin_is_paid(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("booknlife", 10000)
    assert voucher["pin"] and len(voucher["pin"]) == 4
    trade = seller.api.wait_for(seller.sell(voucher, "booknlife", 10000))
    assert trade["status"] == "paid"
    assert trade["payout"] == {"amount": 8900, "currency": "KRW"}
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [8900]
