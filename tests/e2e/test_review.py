"""Held trades: the reviewer sees why; approve pays, reject moves nothing; close reasons become labels."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.support.assertions import assert_nothing_moved, reason_codes
from tests.support.exchange import Exchange, Seller
from voucher_exchange.db.schema import trade_labels


def _held(exchange: Exchange, seller: Seller) -> tuple[dict[str, object], dict[str, object]]:
    # Its own address (the test server trusts X-Forwarded-For from loopback, as behind a proxy):
    # the whole suite's sellers share 127.0.0.1, which would add the busy-IP rule to the evidence.
    seller.api.http.headers["X-Forwarded-For"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    voucher = exchange.mint("google-play-kr", 150000)
    trade = seller.api.wait_for(seller.sell(voucher, "google-play-kr", 150000))
    return trade, voucher


def _label(exchange: Exchange, trade_id: str) -> tuple[str, str, str] | None:
    with exchange.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(
            select(trade_labels.c.label, trade_labels.c.source, trade_labels.c.typology).where(
                trade_labels.c.trade_id == trade_id
            )
        ).first()
    return (row.label, row.source, row.typology) if row else None


def test_a_new_account_selling_a_big_gift_card_is_held_and_the_seller_is_told_why(
    exchange: Exchange, seller: Seller
) -> None:
    trade, voucher = _held(exchange, seller)
    assert trade["status"] == "in_review"
    assert trade["decision"]["outcome"] == "review"
    assert reason_codes(trade) == ["scam_favoured_new_account"]
    assert "☎112" in trade["decision"]["reasons"][0]["message"]
    assert "evidence" not in trade and "features" not in str(trade)
    assert_nothing_moved(exchange, seller, str(trade["id"]), voucher, face_value=150000)


def test_the_reviewer_sees_the_evidence_and_approving_pays(exchange: Exchange, seller: Seller) -> None:
    trade, voucher = _held(exchange, seller)
    reviewer = exchange.operator()
    queue = reviewer.get("/review/trades", params={"reason": "scam_favoured_new_account"}).json()
    item = next(t for t in queue["trades"] if t["id"] == trade["id"])
    assert queue["oldest_age_seconds"] >= item["waiting_seconds"] >= 0
    evidence = item["evidence"]
    assert [r["id"] for r in evidence["rules_hit"]] == ["scam_brand_new_account", "first_trade_high_value"]
    assert evidence["score"] == 20
    assert evidence["ruleset"] == "default-2026-11-27"
    assert evidence["features"]["scam_favoured"] is True
    assert evidence["features"]["high_value"] is True
    assert evidence["features"]["account_age_hours"] < 1
    assert evidence["issuer"]["issuer_balance"] == 150000
    assert reviewer.get("/review/trades", params={"min_amount": 150001}).json()["trades"] == []

    decided = reviewer.post(
        f"/review/trades/{trade['id']}/decision",
        {"outcome": "approve", "note": "Called the seller; own card."},
    )
    assert decided.status_code == 200
    paid = seller.api.wait_for(str(trade["id"]), {"paid", "rejected", "failed"})
    assert paid["status"] == "paid"
    assert [e["status"] for e in paid["events"]][-5:] == [
        "in_review",
        "redeeming",
        "credited",
        "paying_out",
        "paid",
    ]
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [130500]
    assert exchange.lookup(str(voucher["code"]))["state"] == "redeemed"
    assert _label(exchange, str(trade["id"])) == ("good", "review", "legitimate")


def test_rejecting_moves_nothing_and_labels_the_trade_bad(exchange: Exchange, seller: Seller) -> None:
    trade, voucher = _held(exchange, seller)
    reviewer = exchange.operator()
    missing_note = reviewer.post(f"/review/trades/{trade['id']}/decision", {"outcome": "reject"})
    assert missing_note.status_code == 422
    wrong_reason = reviewer.post(
        f"/review/trades/{trade['id']}/decision", {"outcome": "reject", "note": "x", "reason": "legitimate"}
    )
    assert (wrong_reason.status_code, wrong_reason.json()["error"]["code"]) == (422, "close_reason_invalid")
    decided = reviewer.post(
        f"/review/trades/{trade['id']}/decision",
        {
            "outcome": "reject",
            "note": "Victim of a phone scam; told to buy cards.",
            "reason": "stolen_or_scam",
        },
    )
    assert decided.status_code == 200
    rejected = seller.api.get(f"/trades/{trade['id']}").json()
    assert rejected["status"] == "rejected"
    assert reason_codes(rejected) == ["reviewer_rejected"]
    assert_nothing_moved(exchange, seller, str(trade["id"]), voucher, face_value=150000)
    assert _label(exchange, str(trade["id"])) == ("bad", "review", "stolen_or_scam")
    again = reviewer.post(f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "oops"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "trade_not_in_review")
