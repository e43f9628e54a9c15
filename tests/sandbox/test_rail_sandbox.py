"""The simulated payout rail's HTTP API, over real HTTP on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.exchange import ShiftableClock
from tests.support.live_server import live_server
from voucher_exchange.sandbox.app import create_sandbox_app

ACCOUNT = {"bank_code": "004", "account_number": "110123456789", "holder_name": "김민수"}


def _no_brands(_: str) -> None:
    return None


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "sandbox"


@pytest.fixture
def client(state_dir: Path) -> Iterator[httpx.Client]:
    app = create_sandbox_app(state_dir, _no_brands, hang_seconds=2.0)
    with live_server(app) as url, httpx.Client(base_url=f"{url}/rail", timeout=5.0) as c:
        yield c


def register(client: httpx.Client, **fields: Any) -> None:
    response = client.post("/accounts", json={**ACCOUNT, **fields})
    assert response.status_code == 201, response.text


def send(client: httpx.Client, key: str, **fields: Any) -> httpx.Response:
    body = {"idempotency_key": key, **ACCOUNT, "amount": 45000, "currency": "KRW", **fields}
    return client.post("/transfers", json=body)


def test_register_answers_with_a_masked_number(client: httpx.Client) -> None:
    response = client.post("/accounts", json={**ACCOUNT, "account_number": "110-123-456789"})

    assert response.status_code == 201
    assert response.json() == {"bank_code": "004", "masked": "********6789"}


def test_account_lookup_ignores_separators(client: httpx.Client) -> None:
    register(client)

    found = client.post("/accounts/lookup", json={"bank_code": "004", "account_number": "110 123-456789"})
    other_bank = client.post("/accounts/lookup", json={"bank_code": "088", "account_number": "110123456789"})

    assert found.json() == {"exists": True, "holder_name": "김민수"}
    assert other_bank.json() == {"exists": False, "holder_name": None}


def test_registering_again_replaces_the_holder(client: httpx.Client) -> None:
    register(client)
    register(client, holder_name="이서연")

    found = client.post("/accounts/lookup", json={"bank_code": "004", "account_number": "110123456789"})

    assert found.json() == {"exists": True, "holder_name": "이서연"}


def test_a_key_executes_once(client: httpx.Client) -> None:
    register(client)

    first = send(client, "payout-1")
    again = send(client, "payout-1")

    assert first.status_code == 200
    assert first.json()["status"] == "executed"
    assert first.json()["rail_reference"].startswith("RAIL-")
    assert again.json() == first.json()
    listed = client.get("/transfers", params={"account_number": "110123456789"}).json()
    assert [(t["idempotency_key"], t["amount"], t["masked"]) for t in listed["transfers"]] == [
        ("payout-1", 45000, "********6789")
    ]


def test_racing_requests_with_one_key_execute_once(client: httpx.Client) -> None:
    register(client)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: send(client, "payout-race").json(), range(8)))

    assert len({a["rail_reference"] for a in answers}) == 1
    assert len(client.get("/transfers").json()["transfers"]) == 1


def test_a_reused_key_with_another_body_is_refused(client: httpx.Client) -> None:
    register(client)
    send(client, "payout-1")

    response = send(client, "payout-1", amount=1)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert client.get("/transfers/payout-1").json()["amount"] == 45000


def test_rejections_are_recorded_but_not_listed(client: httpx.Client) -> None:
    register(client, behavior="reject")

    rejected = send(client, "payout-r")
    unknown = send(client, "payout-u", account_number="999999999")

    expected = {
        "idempotency_key": "payout-r",
        "status": "rejected",
        "amount": 45000,
        "currency": "KRW",
        "rail_reference": None,
        "executed_at": None,
    }
    assert rejected.json() == expected
    assert client.get("/transfers/payout-r").json() == expected
    assert unknown.json()["status"] == "rejected"
    assert client.get("/transfers").json() == {"transfers": []}


def test_timeout_account_executes_then_hangs_once(client: httpx.Client) -> None:
    register(client, behavior="timeout")

    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/transfers",
            json={"idempotency_key": "payout-t", **ACCOUNT, "amount": 45000, "currency": "KRW"},
            timeout=0.5,
        )
    status = client.get("/transfers/payout-t").json()
    retried = send(client, "payout-t")

    assert status["status"] == "executed"
    assert retried.json() == status


def test_unknown_key_is_404(client: httpx.Client) -> None:
    response = client.get("/transfers/never-sent")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "transfer_not_found"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"currency": "krw"}, "currency"),
        ({"idempotency_key": "a/b"}, "idempotency_key"),
        ({"account_number": "12ab"}, "account_number"),
        ({"holder_name": ""}, "holder_name"),
        ({"bank_code": "0"}, "bank_code"),
    ],
)
def test_bad_transfers_get_422(client: httpx.Client, fields: dict[str, Any], field: str) -> None:
    response = send(client, "payout-1", **fields)

    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_listing_with_a_malformed_number_gets_422(client: httpx.Client) -> None:
    response = client.get("/transfers", params={"account_number": "abc"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


def test_transfers_survive_a_restart(state_dir: Path) -> None:
    with (
        live_server(create_sandbox_app(state_dir, _no_brands)) as url,
        httpx.Client(base_url=f"{url}/rail") as c,
    ):
        register(c)
        sent = send(c, "payout-1").json()

    with (
        live_server(create_sandbox_app(state_dir, _no_brands)) as url,
        httpx.Client(base_url=f"{url}/rail") as c,
    ):
        again = send(c, "payout-1").json()
        listed = c.get("/transfers").json()["transfers"]

    assert again == sent
    assert [t["idempotency_key"] for t in listed] == ["payout-1"]


def test_a_slowed_rail_answers_pending_then_executes_when_its_time_comes(state_dir: Path) -> None:
    clock = ShiftableClock()
    app = create_sandbox_app(state_dir, _no_brands, hang_seconds=2.0, clock=clock)
    with live_server(app) as url, httpx.Client(base_url=f"{url}/rail", timeout=5.0) as client:
        register(client)
        assert client.post("/behavior", json={"delay_seconds": 86_401}).status_code == 422
        assert client.post("/behavior", json={"delay_seconds": 600}).json() == {"delay_seconds": 600}
        before = clock.now()
        pending = send(client, "payout-slow").json()
        after = clock.now()
        assert (pending["status"], pending["executed_at"]) == ("pending", None)
        assert pending["rail_reference"].startswith("RAIL-")
        assert client.get("/transfers").json() == {"transfers": []}  # not executed: not listed
        clock.offset += timedelta(seconds=599)
        assert client.get("/transfers/payout-slow").json()["status"] == "pending"
        assert send(client, "payout-slow").json()["status"] == "pending"  # the same key sends nothing new

        clock.offset += timedelta(seconds=2)
        executed = client.get("/transfers/payout-slow").json()
        assert executed == {**pending, "status": "executed", "executed_at": executed["executed_at"]}
        executed_at = datetime.fromisoformat(executed["executed_at"]) - timedelta(seconds=600)
        assert before <= executed_at <= after  # accepted then, executed 600 s later
        assert [t["idempotency_key"] for t in client.get("/transfers").json()["transfers"]] == ["payout-slow"]

        assert client.post("/behavior", json={"delay_seconds": 0}).status_code == 200
        assert client.get("/behavior").json() == {"delay_seconds": 0}
        assert send(client, "payout-fast").json()["status"] == "executed"
