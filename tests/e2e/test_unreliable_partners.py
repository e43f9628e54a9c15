"""Issuers and rails that time out, fail, or refuse: exactly once still holds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.exchange import Exchange, Seller, make_seller, new_account_number
from voucher_exchange.db.schema import payouts
from voucher_exchange.reconcile import service as reconcile_service

pytestmark = pytest.mark.both_backends


def test_an_issuer_that_redeems_but_times_out_is_asked_before_retrying(
    exchange: Exchange, seller: Seller
) -> None:
    voucher = exchange.mint("cultureland", 50000, failure="timeout")
    trade = seller.api.wait_for(seller.sell(voucher), timeout=30)
    assert trade["status"] == "paid"
    redemptions = exchange.sandbox("GET", "/issuer/redemptions").json()["redemptions"]
    assert [r for r in redemptions if r["reference"] == trade["id"]] == [
        {"reference": trade["id"], "amount": 50000, "brand": "cultureland"}
    ]
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]


def test_a_flaky_issuer_is_retried_with_backoff(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("cultureland", 50000, failure="flaky")
    trade = seller.api.wait_for(seller.sell(voucher), timeout=30)
    assert trade["status"] == "paid"
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]


def _seller_with_bank_behaviour(exchange: Exchange, behavior: str) -> Seller:
    seller = make_seller(exchange)
    account = new_account_number()
    exchange.sandbox(
        "POST",
        "/rail/accounts",
        {
            "bank_code": "004",
            "account_number": account,
            "holder_name": seller.legal_name,
            "behavior": behavior,
        },
    )
    dest = seller.api.post(
        "/me/payout-destinations",
        {
            "kind": "bank_account",
            "bank_code": "004",
            "account_number": account,
            "holder_name": seller.legal_name,
        },
    )
    assert dest.json()["status"] == "verified"
    seller.destination_id, seller.account_number = dest.json()["id"], account
    return seller


def test_a_rail_that_executes_but_times_out_pays_once(exchange: Exchange) -> None:
    seller = _seller_with_bank_behaviour(exchange, "timeout")
    trade = seller.api.wait_for(seller.sell(exchange.mint("cultureland", 50000)), timeout=30)
    assert trade["status"] == "paid"
    assert [(t["amount"], t["status"]) for t in exchange.rail_transfers(seller.account_number)] == [
        (45500, "executed")
    ]


def test_a_rail_refusal_voids_the_reservation_and_waits_for_an_operator(exchange: Exchange) -> None:
    seller = _seller_with_bank_behaviour(exchange, "reject")
    trade = seller.api.wait_for(seller.sell(exchange.mint("cultureland", 50000)), timeout=30)
    assert trade["status"] == "failed"
    assert (
        trade["events"][-1]["note"] == "the bank refused the transfer; the seller can choose another account"
    )
    assert exchange.rail_transfers(seller.account_number) == []
    with exchange.ctx.uow(readonly=True) as uow:
        phases = [t.phase.value for t in reconcile_service.trade_transfers(uow.conn, trade["id"])]
        payout = uow.conn.execute(
            select(payouts.c.status).where(payouts.c.trade_id == trade["id"])
        ).scalar_one()
        report = reconcile_service.verify(uow.conn)
    assert phases == ["single", "single", "pending", "void"]
    assert payout == "rejected"
    assert report.violations == []
    assert f"trade {trade['id']} failed and needs an operator" in report.attention
