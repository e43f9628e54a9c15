"""Nobody decides a trade linked to them; big approvals take two reviewers; staff do not sell by default."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.assertions import assert_nothing_moved
from tests.support.exchange import Api, Exchange, Seller, make_seller
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import Role


def _staff(exchange: Exchange, *roles: Role) -> tuple[Api, str]:
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    with exchange.ctx.uow() as uow:
        for role in roles:
            account_service.create_staff(
                uow.conn, email, "correct-horse-battery", role, exchange.ctx.clock.now()
            )
        uow.commit()
    token = exchange.client().post("/sessions", {"email": email, "password": "correct-horse-battery"}).json()
    api = exchange.client(token["token"])
    # Reviewers decide only with a verified identity on file.
    person = {
        "legal_name": f"Lee Staff {uuid.uuid4().hex[:6]}",
        "birth_date": "1985-03-03",
        "phone": "010-5555-0000",
    }
    assert api.post("/me/identity", person).status_code == 200
    return api, email


def _held(exchange: Exchange, seller: Seller) -> tuple[dict[str, Any], dict[str, Any]]:
    voucher = exchange.mint("google-play-kr", 150000)
    trade = seller.api.wait_for(seller.sell(voucher, "google-play-kr", 150000))
    assert trade["status"] == "in_review"
    return trade, voucher


@pytest.fixture
def dual_above_100k(exchange: Exchange) -> Iterator[None]:
    kept = exchange.ctx.settings
    exchange.ctx.settings = dataclasses.replace(kept, dual_approval_above=100_000)
    yield
    exchange.ctx.settings = kept


def test_staff_cannot_sell_unless_an_operator_allows_it(exchange: Exchange) -> None:
    reviewer, _ = _staff(exchange, Role.REVIEWER)
    quote = reviewer.post(
        "/quotes", {"brand": "cultureland", "face_value": {"amount": 10000, "currency": "KRW"}}
    )
    voucher = exchange.mint("cultureland", 10000)
    body = {
        "quote_id": quote.json()["id"], "voucher": {"code": voucher["code"]},
        "acquisition": {"method": "gift", "acquired_on": "2026-11-01"}, "payout_destination_id": "none",
    }  # fmt: skip
    refused = reviewer.post("/trades", body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "staff_cannot_sell")
    assert exchange.lookup(voucher["code"])["state"] == "active"


def test_a_reviewer_cannot_decide_a_trade_sold_from_their_own_bank_account(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    trade, voucher = _held(exchange, seller)
    # The same person holds a staff account too (same name, birth date and bank account).
    staff, email = _staff(exchange, Role.REVIEWER)
    staff.post(
        "/me/identity",
        {"legal_name": seller.legal_name, "birth_date": "1990-05-17", "phone": "010-1234-5678"},
    )
    staff.post(
        "/me/payout-destinations",
        {"kind": "bank_account", "bank_code": "004", "account_number": seller.account_number,
         "holder_name": seller.legal_name},
    )  # fmt: skip

    decided = staff.post(f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "mine"})

    assert decided.status_code == 403
    assert decided.json()["error"]["code"] == "reviewer_conflict"
    assert "a bank account you registered" in decided.json()["error"]["message"]
    assert seller.api.get(f"/trades/{trade['id']}").json()["status"] == "in_review"
    assert_nothing_moved(exchange, seller, trade["id"], voucher, face_value=150000)
    del email


def test_a_large_approval_needs_a_second_reviewer(exchange: Exchange, dual_above_100k: None) -> None:
    seller = make_seller(exchange)
    trade, voucher = _held(exchange, seller)
    first, _ = _staff(exchange, Role.REVIEWER)
    second, _ = _staff(exchange, Role.REVIEWER)

    one = first.post(f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "looks fine"})
    assert one.status_code == 200 and one.json()["status"] == "in_review"
    assert_nothing_moved(exchange, seller, trade["id"], voucher, face_value=150000)
    again = first.post(f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "really"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "second_reviewer_required")
    assert seller.api.get(f"/trades/{trade['id']}").json()["decision"]["outcome"] == "review"

    two = second.post(f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "agreed"})
    assert two.status_code == 200, two.text
    paid = seller.api.wait_for(trade["id"], {"paid"}, timeout=30)
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [paid["payout"]["amount"]]
