"""An operator's Retry resumes a failed trade where it stopped — and only where that is safe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.assertions import assert_nothing_moved
from tests.support.exchange import Exchange, Seller, make_seller, running_exchange
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    """An exchange that gives up on a trade after two attempts, so failures reach an operator fast."""
    var_dir: Path = tmp_path_factory.mktemp("retry")
    with running_exchange(var_dir, f"sqlite:///{var_dir}/retry.db", job_max_attempts=2) as exchange:
        yield exchange


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def _retry(exchange: Exchange, trade_id: str) -> httpx.Response:
    with httpx.Client(base_url=exchange.base_url, cookies={"vx_lang": "en"}, timeout=20) as client:
        login = {"email": DEMO_OPERATOR_EMAIL, "password": DEMO_OPERATOR_PASSWORD}
        client.post("/login", data={**login, "csrf_token": _csrf(client, "/login")})
        # Logging in starts a new CSRF seed: the form token comes from a page after it.
        return client.post(
            f"/staff/payouts/{trade_id}/retry", data={"csrf_token": _csrf(client, "/staff/payouts")}
        )


def _failed_from(seller: Seller, trade_id: str) -> str:
    """The status the trade was in when the worker gave up."""
    statuses = [e["status"] for e in seller.api.get(f"/trades/{trade_id}").json()["events"]]
    return statuses[statuses.index("failed") - 1]


def test_a_trade_that_failed_while_redeeming_is_retried_and_paid_once(impatient: Exchange) -> None:
    seller = make_seller(impatient)
    # The issuer fails its 1st and 3rd calls: the lookup fails, then (second attempt) the redemption.
    voucher = impatient.mint("cultureland", 50000, failure="flaky")
    trade = seller.api.wait_for(seller.sell(voucher), {"failed"}, timeout=30)
    assert _failed_from(seller, trade["id"]) == "redeeming"
    assert impatient.rail_transfers(seller.account_number) == []

    response = _retry(impatient, trade["id"])
    assert (response.status_code, response.headers["location"]) == (303, "/staff/payouts")
    paid = seller.api.wait_for(trade["id"], {"paid"}, timeout=30)
    assert paid["events"][-1]["status"] == "paid"
    assert [t["amount"] for t in impatient.rail_transfers(seller.account_number)] == [45500]
    assert impatient.lookup(voucher["code"])["state"] == "redeemed"
    # A second retry finds nothing to do.
    again = _retry(impatient, trade["id"])
    assert again.status_code == 409 and "Only failed trades can be retried." in again.text
    assert [t["amount"] for t in impatient.rail_transfers(seller.account_number)] == [45500]


def test_a_trade_that_failed_before_verification_is_not_retried(tmp_path: Path) -> None:
    # One attempt only: the issuer's failed lookup ends the trade before anything was verified.
    with running_exchange(tmp_path, f"sqlite:///{tmp_path}/once.db", job_max_attempts=1) as exchange:
        seller = make_seller(exchange)
        voucher = exchange.mint("cultureland", 50000, failure="flaky")
        trade = seller.api.wait_for(seller.sell(voucher), {"failed"}, timeout=30)
        assert _failed_from(seller, trade["id"]) == "verifying"
        response = _retry(exchange, trade["id"])
        assert response.status_code == 409
        assert "failed before its voucher was verified" in response.text
        assert seller.api.get(f"/trades/{trade['id']}").json()["status"] == "failed"
        assert_nothing_moved(exchange, seller, trade["id"], voucher, face_value=50000)
