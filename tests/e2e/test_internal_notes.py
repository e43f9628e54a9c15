"""The reviewer's note is internal: the seller's API and pages never show it (issue 12)."""

from __future__ import annotations

import httpx

from tests.support.exchange import Exchange, Seller

NOTE = "Internal: seller sounded coached on the phone, watch account 77-1"


def test_the_reviewers_note_is_not_returned_to_the_seller(exchange: Exchange, seller: Seller) -> None:
    voucher = exchange.mint("google-play-kr", 150000)
    trade = seller.api.wait_for(seller.sell(voucher, "google-play-kr", 150000))
    assert trade["status"] == "in_review"
    reviewer = exchange.operator()
    decided = reviewer.post(f"/review/trades/{trade['id']}/decision", {"outcome": "reject", "note": NOTE})
    assert decided.status_code == 200, decided.text

    own = seller.api.get(f"/trades/{trade['id']}").json()
    assert own["status"] == "rejected"
    assert [e["note"] for e in own["events"] if e["status"] == "rejected"] == [None]
    assert NOTE not in str(own)
    assert NOTE not in seller.api.get("/trades").text
    token = seller.api.http.headers["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=exchange.base_url, cookies={"vx_session": token}) as web:
        for path in (f"/trades/{trade['id']}", f"/trades/{trade['id']}/timeline", "/trades"):
            page = web.get(path)
            assert page.status_code == 200 and NOTE not in page.text, path
    # Staff still read it (the decision's answer is the staff view of the trade).
    assert [e["note"] for e in decided.json()["events"] if e["status"] == "rejected"] == [NOTE]
