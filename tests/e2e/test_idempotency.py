"""Idempotency keys and concurrent submissions: one voucher is paid at most once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.support.exchange import Exchange, Seller, make_seller
from voucher_exchange.db.schema import trades

pytestmark = pytest.mark.both_backends


def _trade_count(exchange: Exchange) -> int:
    with exchange.ctx.uow(readonly=True) as uow:
        return int(uow.conn.execute(select(func.count()).select_from(trades)).scalar_one())


def test_same_key_and_body_return_the_same_trade(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("cultureland", 50000)
    quote = seller.quote()
    body = seller.trade_body(quote["id"], voucher["code"])
    first = seller.api.post("/trades", body, headers={"Idempotency-Key": "k-1"})
    again = seller.api.post("/trades", body, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert len(seller.api.get("/trades").json()["trades"]) == 1
    assert seller.api.wait_for(first.json()["id"])["status"] == "paid"


def test_same_key_with_another_body_is_a_conflict(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("cultureland", 50000)
    quote = seller.quote()
    first = seller.api.post(
        "/trades", seller.trade_body(quote["id"], voucher["code"]), headers={"Idempotency-Key": "k-2"}
    )
    before = _trade_count(exchange)
    other = seller.api.post(
        "/trades",
        seller.trade_body(quote["id"], voucher["code"], method="card"),
        headers={"Idempotency-Key": "k-2"},
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert _trade_count(exchange) == before
    assert seller.api.wait_for(first.json()["id"])["status"] == "paid"


def test_keys_belong_to_one_user(exchange: Exchange, seller: Seller) -> None:
    other = make_seller(exchange)
    a = seller.api.post(
        "/quotes",
        {"brand": "cultureland", "face_value": {"amount": 10000, "currency": "KRW"}},
        headers={"Idempotency-Key": "shared"},
    )
    b = other.api.post(
        "/quotes",
        {"brand": "cultureland", "face_value": {"amount": 10000, "currency": "KRW"}},
        headers={"Idempotency-Key": "shared"},
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def test_fifty_concurrent_submissions_of_one_voucher_pay_once(exchange: Exchange) -> None:
    voucher = exchange.mint("cultureland", 50000)
    sellers = [make_seller(exchange) for _ in range(5)]
    bodies = []
    for i in range(50):
        s = sellers[i % 5]
        bodies.append((s, s.trade_body(s.quote()["id"], voucher["code"])))
    # Ten submissions share one key: they must collapse into one trade.
    keyed = sellers[0]
    keyed_body = keyed.trade_body(keyed.quote()["id"], voucher["code"])

    def submit(i: int) -> tuple[int, str]:
        if i < 10:
            r = keyed.api.post("/trades", keyed_body, headers={"Idempotency-Key": "same-for-ten"})
        else:
            s, body = bodies[i - 10]
            r = s.api.post("/trades", body)
        return r.status_code, r.json().get("id", "")

    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(submit, range(60)))
    assert all(status == 202 for status, _ in results)
    ids = {trade_id for _, trade_id in results}
    assert len({trade_id for (_, trade_id) in results[:10]}) == 1
    assert len(ids) == 51
    settled = {"paid", "rejected", "in_review"}
    outcomes = [s.api.wait_for(t, settled) for t in ids for s in sellers if _owns(s, t)]
    # Ten submissions in flight from one seller is a burst: the velocity rule may hold the winner.
    # A reviewer approves it; what matters here is that it is then paid exactly once.
    for held in [t for t in outcomes if t["status"] == "in_review"]:
        assert [r["code"] for r in held["decision"]["reasons"]] == ["velocity"]
        exchange.operator().post(
            f"/review/trades/{held['id']}/decision", {"outcome": "approve", "note": "burst ok"}
        )
    outcomes = [
        s.api.wait_for(t["id"], {"paid", "rejected"}) for t in outcomes for s in sellers if _owns(s, t["id"])
    ]
    statuses = sorted(t["status"] for t in outcomes)
    assert statuses.count("paid") == 1
    assert statuses.count("rejected") == 50
    assert {r["code"] for t in outcomes if t["status"] == "rejected" for r in t["decision"]["reasons"]} == {
        "duplicate_voucher"
    }
    transfers = [t for s in sellers for t in exchange.rail_transfers(s.account_number)]
    assert [(t["amount"], t["status"]) for t in transfers] == [(45500, "executed")]


def _owns(seller: Seller, trade_id: str) -> bool:
    return seller.api.get(f"/trades/{trade_id}").status_code == 200
