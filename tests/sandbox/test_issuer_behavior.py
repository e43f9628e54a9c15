"""The sandbox issuer slow, failing or short-paying for a stretch (POST /sandbox/issuer/behavior)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.sandbox.test_issuer_sandbox import BRANDS, mint
from tests.support.live_server import live_server
from voucher_exchange.sandbox.app import create_sandbox_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    app = create_sandbox_app(tmp_path / "sandbox", BRANDS.get, hang_seconds=0.5)
    with live_server(app) as url, httpx.Client(base_url=f"{url}/issuer", timeout=5.0) as c:
        yield c


def _lookup(client: httpx.Client, voucher: dict[str, str]) -> int:
    return client.post("/vouchers/lookup", json={"code": voucher["code"], "pin": voucher["pin"]}).status_code


def test_failing_lasts_until_the_stretch_ends(client: httpx.Client) -> None:
    voucher = mint(client)
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    set_ = client.post("/behavior", json={"failure": "failing", "until": later})
    assert set_.status_code == 200 and set_.json()["failure"] == "failing"

    assert [_lookup(client, voucher) for _ in range(3)] == [503, 503, 503]
    over = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    assert client.post("/behavior", json={"failure": "failing", "until": over}).status_code == 200
    assert _lookup(client, voucher) == 200
    assert client.get("/behavior").json() == {
        "latency_ms": 0, "failure": "failing", "until": over, "statement_short_bps": 0,
    }  # fmt: skip


def test_flaky_fails_every_other_call_and_empty_makes_it_normal(client: httpx.Client) -> None:
    voucher = mint(client)
    assert client.post("/behavior", json={"failure": "flaky"}).status_code == 200
    assert [_lookup(client, voucher) for _ in range(4)] == [503, 200, 503, 200]
    assert client.post("/behavior", json={}).status_code == 200
    assert [_lookup(client, voucher) for _ in range(2)] == [200, 200]


def test_a_timeout_hangs_past_the_callers_patience_and_redeems_nothing(client: httpx.Client) -> None:
    voucher = mint(client)
    assert client.post("/behavior", json={"failure": "timeout"}).status_code == 200
    redeem = {"code": voucher["code"], "pin": voucher["pin"], "amount": 50000, "reference": "trade-1"}
    with pytest.raises(httpx.TimeoutException):
        client.post("/vouchers/redeem", json=redeem, timeout=0.2)
    client.post("/behavior", json={})
    answer = client.post("/vouchers/lookup", json={"code": voucher["code"], "pin": voucher["pin"]}).json()
    assert (answer["state"], answer["balance"]) == ("active", 50000)


def test_a_short_statement_pays_less_on_every_line(client: httpx.Client) -> None:
    voucher = mint(client)
    redeem = {"code": voucher["code"], "pin": voucher["pin"], "amount": 50000, "reference": "trade-1"}
    assert client.post("/vouchers/redeem", json=redeem).status_code == 200
    assert client.post("/behavior", json={"statement_short_bps": 1000}).status_code == 200

    text = client.get("/statements", params={"date": datetime.now(UTC).date().isoformat()}).text

    [line] = list(csv.DictReader(io.StringIO(text)))
    assert (line["merchant_reference"], line["amount"]) == ("trade-1", "45000")


@pytest.mark.parametrize(
    "body",
    [{"failure": "sometimes"}, {"latency_ms": -1}, {"statement_short_bps": 10_001}, {"surprise": 1}],
    ids=["unknown-failure", "negative-latency", "short-past-100pc", "unknown-field"],
)
def test_a_malformed_behaviour_is_refused(client: httpx.Client, body: dict[str, object]) -> None:
    answer = client.post("/behavior", json=body)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_input"
    assert client.get("/behavior").json()["failure"] == "none"
