"""GET /trades/{id} answers a conditional GET: a weak ETag, 304 while nothing changed, 200 after."""

from __future__ import annotations

import uuid

from tests.support.exchange import Exchange, Seller, make_seller


def _held(exchange: Exchange, seller: Seller) -> str:
    # A big scam-favoured gift card from a new account is held for a person (see test_review).
    seller.api.http.headers["X-Forwarded-For"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"
    voucher = exchange.mint("google-play-kr", 150000)
    trade_id = seller.sell(voucher, "google-play-kr", 150000)
    assert seller.api.wait_for(trade_id)["status"] == "in_review"
    return trade_id


def test_unchanged_is_304_and_a_change_is_a_200_with_the_new_status(
    exchange: Exchange, seller: Seller
) -> None:
    trade_id = _held(exchange, seller)

    first = seller.api.get(f"/trades/{trade_id}")
    tag = first.headers["ETag"]
    again = seller.api.get(f"/trades/{trade_id}", headers={"If-None-Match": tag})
    listed = seller.api.get(
        f"/trades/{trade_id}", headers={"If-None-Match": f'"other", {tag.removeprefix("W/")}'}
    )
    anything = seller.api.get(f"/trades/{trade_id}", headers={"If-None-Match": "*"})
    stale = seller.api.get(f"/trades/{trade_id}", headers={"If-None-Match": 'W/"in_review-1-0-en"'})

    assert first.status_code == 200 and first.json()["status"] == "in_review"
    assert tag.startswith('W/"in_review-') and tag.endswith('-en"')
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
    assert (listed.status_code, anything.status_code) == (304, 304)
    assert stale.status_code == 200 and stale.json() == first.json()

    decided = exchange.operator().post(
        f"/review/trades/{trade_id}/decision", {"outcome": "approve", "note": "ok"}
    )
    assert decided.status_code == 200
    seller.api.wait_for(trade_id, {"paid", "failed", "rejected"})
    after = seller.api.get(f"/trades/{trade_id}", headers={"If-None-Match": tag})

    assert after.status_code == 200
    assert after.json()["status"] == "paid"
    assert after.headers["ETag"].startswith('W/"paid-') and after.headers["ETag"] != tag
    assert (
        seller.api.get(f"/trades/{trade_id}", headers={"If-None-Match": after.headers["ETag"]}).status_code
        == 304
    )


def test_the_tag_is_per_language_and_no_one_else_learns_anything(exchange: Exchange, seller: Seller) -> None:
    trade_id = _held(exchange, seller)
    tag = seller.api.get(f"/trades/{trade_id}").headers["ETag"]

    korean = seller.api.get(f"/trades/{trade_id}", headers={"If-None-Match": tag, "Accept-Language": "ko"})
    stranger = make_seller(exchange).api.get(f"/trades/{trade_id}", headers={"If-None-Match": "*"})
    unknown = seller.api.get("/trades/no-such-trade", headers={"If-None-Match": "*"})

    assert korean.status_code == 200 and korean.headers["ETag"] == tag.replace('-en"', '-ko"')
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (404, "trade_unknown")
    assert "ETag" not in stranger.headers
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "trade_unknown")
