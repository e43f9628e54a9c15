"""A payout the bank refused: the money is owed again, the seller sends it elsewhere, once (real HTTP)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.exchange import Exchange, Seller, make_seller
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import PayoutStatus

pytestmark = pytest.mark.both_backends


def _balances(exchange: Exchange) -> dict[str, tuple[int, int]]:
    found = exchange.operator().get("/ledger/balances").json()["accounts"]
    return {a["account"]: (a["balance"], a["pending"]) for a in found}


def _refused_trade(exchange: Exchange) -> tuple[Seller, dict, str]:
    """A seller whose only account the bank refuses, and a trade whose payout it refused."""
    seller = make_seller(exchange)
    exchange.sandbox(
        "POST",
        "/rail/accounts",
        {"bank_code": "004", "account_number": seller.account_number, "holder_name": seller.legal_name,
         "behavior": "reject"},
    )  # fmt: skip
    trade = seller.api.wait_for(seller.sell(exchange.mint("cultureland", 50000)), timeout=30)
    user_id = seller.api.get("/me").json()["id"]
    return seller, trade, user_id


def _second_account(exchange: Exchange, seller: Seller) -> tuple[str, str]:
    account = str(uuid.uuid4().int)[:12]
    exchange.sandbox(
        "POST",
        "/rail/accounts",
        {"bank_code": "088", "account_number": account, "holder_name": seller.legal_name},
    )
    response = seller.api.post(
        "/me/payout-destinations",
        {
            "kind": "bank_account",
            "bank_code": "088",
            "account_number": account,
            "holder_name": seller.legal_name,
        },
    )
    assert response.status_code == 201 and response.json()["status"] == "verified", response.text
    return response.json()["id"], account


def test_a_refused_payout_is_owed_again_and_the_seller_is_told(exchange: Exchange) -> None:
    seller, trade, user_id = _refused_trade(exchange)

    assert trade["status"] == "failed"
    assert [r["code"] for r in trade["decision"]["reasons"]] == ["payout_refused"]
    assert trade["can_redirect_payout"] is True
    assert (
        trade["events"][-1]["note"] == "the bank refused the transfer; the seller can choose another account"
    )
    assert _balances(exchange)[f"seller_payable:{user_id}"] == (-45500, 0)
    assert exchange.rail_transfers(seller.account_number) == []
    me = seller.api.get("/me").json()
    assert me["receivable"] == {"amount": 0, "currency": "KRW"}


def test_the_seller_sends_it_to_another_account_once(exchange: Exchange) -> None:
    seller, trade, user_id = _refused_trade(exchange)
    other, account = _second_account(exchange, seller)
    treasury_before = _balances(exchange)["treasury"][0]

    first = seller.api.post(f"/trades/{trade['id']}/payout", {"payout_destination_id": other},
                            headers={"Idempotency-Key": "redirect-1"})  # fmt: skip
    again = seller.api.post(f"/trades/{trade['id']}/payout", {"payout_destination_id": other},
                            headers={"Idempotency-Key": "redirect-1"})  # fmt: skip
    assert first.status_code == 202, first.text
    assert (again.status_code, again.json()) == (202, first.json())

    paid = seller.api.wait_for(trade["id"], {"paid"}, timeout=30)
    assert paid["payout_destination_id"] == other
    assert [e["status"] for e in paid["events"]][-3:] == ["failed", "paying_out", "paid"]
    assert paid["decision"]["outcome"] == "approve"  # the refusal is history once paid
    assert [(t["amount"], t["status"]) for t in exchange.rail_transfers(account)] == [(45500, "executed")]
    assert exchange.rail_transfers(seller.account_number) == []
    balances = _balances(exchange)
    assert balances[f"seller_payable:{user_id}"] == (0, 0)
    assert balances["treasury"][0] == treasury_before - 45500

    late = seller.api.post(f"/trades/{trade['id']}/payout", {"payout_destination_id": other})
    assert (late.status_code, late.json()["error"]["code"]) == (409, "payout_not_refused")
    with exchange.ctx.uow(readonly=True) as uow:
        statuses = [p.status for p in payout_service.payouts_of(uow.conn, trade["id"])]
    assert statuses == [PayoutStatus.REJECTED, PayoutStatus.EXECUTED]


def test_a_redirect_to_the_refused_or_someone_elses_account_moves_nothing(exchange: Exchange) -> None:
    seller, trade, _ = _refused_trade(exchange)
    stranger = make_seller(exchange)
    before = _balances(exchange)

    same = seller.api.post(f"/trades/{trade['id']}/payout", {"payout_destination_id": seller.destination_id})
    theirs = seller.api.post(
        f"/trades/{trade['id']}/payout", {"payout_destination_id": stranger.destination_id}
    )
    not_mine = stranger.api.post(
        f"/trades/{trade['id']}/payout", {"payout_destination_id": stranger.destination_id}
    )

    assert (same.status_code, same.json()["error"]["code"]) == (409, "payout_destination_refused")
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "payout_destination_unknown")
    assert (not_mine.status_code, not_mine.json()["error"]["code"]) == (404, "trade_unknown")
    assert seller.api.get(f"/trades/{trade['id']}").json()["status"] == "failed"
    assert _balances(exchange) == before
    assert exchange.rail_transfers(stranger.account_number) == []
