"""The payout-time promise over real HTTP: stated on the quote, shown on the trade, and a payout the
bank sent late carried the fee back automatically (one bank transfer, `ledger verify` clean)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.exchange import Exchange, Seller, make_seller
from tests.support.polling import poll_until
from voucher_exchange.promises import service as promise_service
from voucher_exchange.reconcile import service as reconcile_service

pytestmark = pytest.mark.both_backends


def _balances(exchange: Exchange) -> dict[str, tuple[int, int]]:
    found = exchange.operator().get("/ledger/balances").json()["accounts"]
    return {a["account"]: (a["balance"], a["pending"]) for a in found}


def _verify(exchange: Exchange) -> list[str]:
    with exchange.ctx.uow(readonly=True) as uow:
        return reconcile_service.verify(uow.conn).violations


def _add_account(exchange: Exchange, seller: Seller, behavior: str = "ok") -> tuple[str, str]:
    account = str(uuid.uuid4().int)[:12]
    exchange.sandbox(
        "POST",
        "/rail/accounts",
        {
            "bank_code": "088",
            "account_number": account,
            "holder_name": seller.legal_name,
            "behavior": behavior,
        },
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


@pytest.fixture
def window_now(exchange: Exchange) -> Iterator[None]:
    """The banks' nightly window set around the present moment, then none again."""
    local = exchange.clock.now().astimezone(ZoneInfo("Asia/Seoul"))
    start, end = local - timedelta(minutes=5), local + timedelta(minutes=30)
    engine, settings = exchange.ctx.engine, exchange.ctx.settings
    promise_service.set_terms(engine, settings, 10, 10_000, (f"{start:%H:%M}", f"{end:%H:%M}"), "test", local)
    try:
        yield
    finally:
        promise_service.set_terms(engine, settings, 10, 10_000, ("00:00", "00:00"), "test", local)


def test_a_quote_states_the_promise_and_its_exclusions_before_selling(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    quote = seller.quote("cultureland", 50000)
    assert quote["promise"] == {
        "minutes": 10,
        "compensation": {"amount": 4500, "currency": "KRW"},
        "applies": True,
        "exclusions": {
            "bank_window": {"from": "00:00", "to": "00:00", "timezone": "Asia/Seoul"},
            "review_hold": {"expected_wait_minutes": quote["promise"]["exclusions"]["review_hold"][
                "expected_wait_minutes"]},
        },
    }  # fmt: skip
    assert quote["promise"]["exclusions"]["review_hold"]["expected_wait_minutes"] >= 1


def test_a_quote_in_the_banks_window_says_the_sale_is_excluded(exchange: Exchange, window_now: None) -> None:
    seller = make_seller(exchange)
    promise = seller.quote("cultureland", 50000)["promise"]
    assert (promise["applies"], promise["excluded_because"]) == (False, "bank_window")


def test_a_trade_held_for_review_says_it_is_excluded(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    quote = seller.quote("google-play-kr", 150000)
    assert "review_hold" in quote["promise"]["exclusions"]
    voucher = exchange.mint("google-play-kr", 150000)
    response = seller.api.post("/trades", seller.trade_body(quote["id"], voucher["code"], voucher.get("pin")))
    assert response.status_code == 202, response.text
    held = seller.api.wait_for(response.json()["id"], {"in_review"}, timeout=30)
    assert held["promise"] == {"due_at": None, "applies": False, "excluded_because": "review_hold"}
    assert held["compensation"] is None


def test_a_payout_the_bank_sent_late_carries_the_fee_back(
    exchange: Exchange, shift_clock: Callable[[float], None]
) -> None:
    seller = make_seller(exchange)
    receiver = exchange.sandbox("POST", "/webhooks/receivers", {"behavior": "ok"}).json()
    endpoint = seller.api.post("/webhook-endpoints", {"url": receiver["url"], "events": ["trade.paid"]})
    assert endpoint.status_code == 201, endpoint.text
    exchange.sandbox(  # the seller's bank refuses the first transfer: the payout is delayed
        "POST",
        "/rail/accounts",
        {"bank_code": "004", "account_number": seller.account_number, "holder_name": seller.legal_name,
         "behavior": "reject"},
    )  # fmt: skip
    trade = seller.api.wait_for(seller.sell(exchange.mint("cultureland", 50000)), timeout=30)
    assert trade["status"] == "failed"
    assert trade["promise"]["applies"] is True and trade["compensation"] is None
    user_id = seller.api.get("/me").json()["id"]
    other, account = _add_account(exchange, seller)

    shift_clock(11 * 60)  # past the promise: paid 10 minutes after securing, or the fee back
    sent = seller.api.post(f"/trades/{trade['id']}/payout", {"payout_destination_id": other})
    assert sent.status_code == 202, sent.text
    paid = seller.api.wait_for(trade["id"], timeout=30)

    assert paid["status"] == "paid"
    assert paid["compensation"] == {"amount": 4500, "currency": "KRW"}
    assert paid["promise"]["applies"] is True and "excluded_because" not in paid["promise"]
    assert [e["note"] for e in paid["events"] if e["note"] and "promised" in e["note"]] == [
        "payout later than promised: compensation added"
    ]
    # One bank transfer of payout + compensation: what the rail statement shows and matches.
    assert [(t["amount"], t["status"]) for t in exchange.rail_transfers(account)] == [(50_000, "executed")]
    assert exchange.rail_transfers(seller.account_number) == []
    assert _balances(exchange)[f"seller_payable:{user_id}"] == (0, 0)
    receipt = seller.api.get(f"/trades/{trade['id']}/receipt").json()["receipt"]
    assert receipt["compensation"] == {"amount": 4500, "currency": "KRW"}
    assert receipt["payout"] == {"amount": 45500, "currency": "KRW"}
    assert receipt["promise_due_at"] == paid["promise"]["due_at"]
    assert _verify(exchange) == []

    def delivered() -> dict[str, Any] | None:
        found = exchange.sandbox("GET", f"/webhooks/receivers/{receiver['id']}/deliveries").json()[
            "deliveries"
        ]
        return json.loads(found[0]["body"]) if found else None

    # The partner's trade.paid event carries the trade as GET /trades/{id} shows it.
    event = poll_until(delivered, 20, what="the trade.paid webhook")
    assert event["type"] == "trade.paid"
    assert event["data"]["trade"]["compensation"] == {"amount": 4500, "currency": "KRW"}
    assert event["data"]["trade"]["promise"] == paid["promise"]


def test_a_payout_in_the_banks_window_queues_until_it_ends_and_is_not_compensated(
    exchange: Exchange, window_now: None, shift_clock: Callable[[float], None]
) -> None:
    seller = make_seller(exchange)
    quote = seller.quote("cultureland", 50000)
    assert quote["promise"]["excluded_because"] == "bank_window"  # told before selling
    voucher = exchange.mint("cultureland", 50000)
    response = seller.api.post("/trades", seller.trade_body(quote["id"], voucher["code"], voucher.get("pin")))
    assert response.status_code == 202, response.text
    trade_id = response.json()["id"]

    def queued() -> dict[str, Any] | None:
        trade: dict[str, Any] = seller.api.get(f"/trades/{trade_id}").json()
        notes = [e["note"] for e in trade["events"]]
        # The status and the events are two reads: wait until both show the queued payout.
        queued = "payout queued: the banks' nightly window" in notes and trade["status"] == "paying_out"
        return trade if queued else None

    waiting = poll_until(queued, 30, what="the payout to queue for the banks' window")
    assert waiting["status"] == "paying_out"
    assert waiting["promise"]["excluded_because"] == "bank_window"
    assert exchange.rail_transfers(seller.account_number) == []

    shift_clock(40 * 60)  # the window is over: the worker sends it
    paid = seller.api.wait_for(trade_id, timeout=30)
    assert paid["status"] == "paid" and paid["compensation"] is None
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45_500]
    assert _verify(exchange) == []
