"""A bank account registered by a second customer is shared, before any payout went to it."""

from __future__ import annotations

import uuid

from tests.support.assertions import assert_nothing_moved, reason_codes
from tests.support.exchange import Exchange, Seller, make_seller, new_account


def test_an_account_registered_by_another_customer_holds_the_trade(exchange: Exchange) -> None:
    name = f"Park Jisoo {uuid.uuid4().hex[:6]}"
    first = make_seller(exchange, legal_name=name)  # registers the account, never sells
    api, email = new_account(exchange)
    person = {"legal_name": name, "birth_date": "1990-05-17", "phone": "010-1234-5678"}
    assert api.post("/me/identity", person).status_code == 200
    same = {
        "kind": "bank_account",
        "bank_code": "004",
        "account_number": first.account_number,
        "holder_name": name,
    }
    registered = api.post("/me/payout-destinations", same)
    assert (registered.status_code, registered.json()["status"]) == (201, "verified")
    second = Seller(api, email, registered.json()["id"], first.account_number, name)
    voucher = exchange.mint()
    trade = second.api.wait_for(second.sell(voucher))
    assert (trade["status"], reason_codes(trade)) == ("in_review", ["payout_account_shared"])
    assert_nothing_moved(exchange, second, str(trade["id"]), voucher)
