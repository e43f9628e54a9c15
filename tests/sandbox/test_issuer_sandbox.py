"""The simulated issuer's HTTP API, over real HTTP on a real SQLite file."""

from __future__ import annotations

import random
import re
import string
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import live_server
from voucher_exchange.sandbox.app import create_sandbox_app
from voucher_exchange.sandbox.issuer import SandboxBrand


def _sixteen_digits_and_pin(rng: random.Random) -> tuple[str, str | None]:
    code = "".join(rng.choice(string.digits) for _ in range(16))
    return code, "".join(rng.choice(string.digits) for _ in range(4))


def _no_pin(rng: random.Random) -> tuple[str, str | None]:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(12)), None


BRANDS = {
    "test-brand": SandboxBrand("KRW", _sixteen_digits_and_pin),
    "plain-brand": SandboxBrand("USD", _no_pin),
}


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "sandbox"


@pytest.fixture
def client(state_dir: Path) -> Iterator[httpx.Client]:
    app = create_sandbox_app(state_dir, BRANDS.get, hang_seconds=2.0)
    with live_server(app) as url, httpx.Client(base_url=f"{url}/issuer", timeout=5.0) as c:
        yield c


def mint(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/vouchers", json={"brand": "test-brand", "face_value": 50000, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_mint_returns_a_code_of_the_brand_format(client: httpx.Client) -> None:
    body = mint(client)

    assert set(body) == {"code", "pin", "brand", "face_value", "currency"}
    assert body["code"].isdigit() and len(body["code"]) == 16
    assert body["pin"].isdigit() and len(body["pin"]) == 4
    assert (body["brand"], body["face_value"], body["currency"]) == ("test-brand", 50000, "KRW")


def test_minted_codes_are_unique(client: httpx.Client) -> None:
    codes = {mint(client)["code"] for _ in range(30)}

    assert len(codes) == 30


def test_lookup_reports_what_was_minted(client: httpx.Client) -> None:
    v = mint(client, balance=20000, issued_at="2025-03-01T09:30:00+09:00", purchase_channel="carrier_billing")

    response = client.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]})

    assert response.status_code == 200
    assert response.json() == {
        "state": "active",
        "balance": 20000,
        "currency": "KRW",
        "issued_at": "2025-03-01T00:30:00+00:00",
        "purchase_channel": "carrier_billing",
        "redeemed_by": None,
        "redeemed_at": None,
    }


def test_naive_issued_at_is_read_as_utc(client: httpx.Client) -> None:
    v = mint(client, issued_at="2025-03-01T09:30:00")

    body = client.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]}).json()

    assert body["issued_at"] == "2025-03-01T09:30:00+00:00"


def test_a_voucher_minted_redeemed_has_nothing_left(client: httpx.Client) -> None:
    v = mint(client, state="redeemed")

    body = client.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]}).json()

    assert (body["state"], body["balance"]) == ("redeemed", 0)
    # Spent at one of the issuer's shops: its own reference, and when.
    assert re.fullmatch(r"POS-[0-9A-Z]{8}", body["redeemed_by"])
    assert datetime.fromisoformat(body["redeemed_at"]).tzinfo is not None


def test_a_voucher_minted_redeemed_tells_the_time_of_use_given(client: httpx.Client) -> None:
    v = mint(client, state="redeemed", redeemed_at="2026-12-01T14:03:00+09:00")

    body = client.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]}).json()

    assert body["redeemed_at"] == "2026-12-01T05:03:00+00:00"
    refused = client.post(
        "/vouchers", json={"brand": "test-brand", "face_value": 50000, "redeemed_at": "2026-12-01T00:00:00Z"}
    )
    assert refused.status_code == 422  # a time of use for a voucher nobody used


@pytest.mark.parametrize(
    "payload",
    [
        {"code": "0000000000000000", "pin": "1234"},
        {"code": "CODE-OF-THE-RIGHT-BRAND", "pin": None},
    ],
)
def test_unknown_code_is_not_found(client: httpx.Client, payload: dict[str, Any]) -> None:
    response = client.post("/vouchers/lookup", json=payload)

    assert response.status_code == 200
    assert response.json() == {
        "state": "not_found",
        "balance": 0,
        "currency": "",
        "issued_at": None,
        "purchase_channel": None,
        "redeemed_by": None,
        "redeemed_at": None,
    }


def test_wrong_pin_missing_pin_or_other_brand_is_not_found(client: httpx.Client) -> None:
    v = mint(client)
    wrong = "0000" if v["pin"] != "0000" else "1111"

    for payload in (
        {"code": v["code"], "pin": wrong},
        {"code": v["code"]},
        {"code": v["code"], "pin": v["pin"], "brand": "plain-brand"},
    ):
        body = client.post("/vouchers/lookup", json=payload).json()
        assert (body["state"], body["balance"]) == ("not_found", 0)


def test_voucher_without_pin_is_found_by_code_alone(client: httpx.Client) -> None:
    v = mint(client, brand="plain-brand", face_value=2500)

    body = client.post("/vouchers/lookup", json={"code": v["code"]}).json()

    assert v["pin"] is None
    assert (body["state"], body["balance"], body["currency"]) == ("active", 2500, "USD")


def test_redeem_moves_the_whole_balance_once(client: httpx.Client) -> None:
    v = mint(client)
    redeem = {"code": v["code"], "pin": v["pin"], "amount": 50000, "reference": "trade-1"}

    first = client.post("/vouchers/redeem", json=redeem)
    again = client.post("/vouchers/redeem", json=redeem)
    other = client.post("/vouchers/redeem", json={**redeem, "reference": "trade-2"})

    assert (first.status_code, first.json()) == (200, {"reference": "trade-1", "amount": 50000})
    assert (again.status_code, again.json()) == (200, {"reference": "trade-1", "amount": 50000})
    assert other.status_code == 409
    assert other.json() == {
        "error": {"code": "voucher_redeemed", "message": "The voucher is redeemed.", "field": None},
        "state": "redeemed",
    }
    looked = client.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]}).json()
    assert (looked["state"], looked["balance"], looked["redeemed_by"]) == ("redeemed", 0, "trade-1")
    assert client.get("/redemptions").json() == {
        "redemptions": [{"reference": "trade-1", "amount": 50000, "brand": "test-brand"}]
    }


def test_redeem_with_the_wrong_amount_changes_nothing(client: httpx.Client) -> None:
    v = mint(client, balance=20000)

    response = client.post(
        "/vouchers/redeem", json={"code": v["code"], "pin": v["pin"], "amount": 50000, "reference": "t"}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "balance_mismatch"
    assert response.json()["state"] == "active"
    looked = client.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]}).json()
    assert (looked["state"], looked["balance"]) == ("active", 20000)
    assert client.get("/redemptions").json() == {"redemptions": []}


@pytest.mark.parametrize("state", ["expired", "blocked"])
def test_unredeemable_states_are_refused(client: httpx.Client, state: str) -> None:
    v = mint(client, state=state)

    response = client.post(
        "/vouchers/redeem", json={"code": v["code"], "pin": v["pin"], "amount": 50000, "reference": "t"}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == f"voucher_{state}"
    assert response.json()["state"] == state


def test_redeem_of_unknown_code_is_refused_as_not_found(client: httpx.Client) -> None:
    response = client.post(
        "/vouchers/redeem", json={"code": "0000000000000000", "pin": "1234", "amount": 1000, "reference": "t"}
    )

    assert response.status_code == 409
    assert response.json()["state"] == "not_found"
    assert response.json()["error"]["code"] == "voucher_not_found"


def test_racing_redeems_with_different_references_let_exactly_one_through(
    client: httpx.Client,
) -> None:
    v = mint(client)

    def attempt(n: int) -> int:
        body = {"code": v["code"], "pin": v["pin"], "amount": 50000, "reference": f"r{n}"}
        return client.post("/vouchers/redeem", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))

    assert statuses == [200] + [409] * 7
    assert len(client.get("/redemptions").json()["redemptions"]) == 1


def test_flaky_voucher_fails_the_first_and_third_call(client: httpx.Client) -> None:
    v = mint(client, failure="flaky")
    lookup = {"code": v["code"], "pin": v["pin"]}

    first = client.post("/vouchers/lookup", json=lookup)
    statuses = [first.status_code] + [
        client.post("/vouchers/lookup", json=lookup).status_code for _ in range(5)
    ]

    assert statuses == [503, 200, 503, 200, 200, 200]
    assert first.json()["error"]["code"] == "issuer_unavailable"


def test_latency_delays_the_answer(client: httpx.Client) -> None:
    v = mint(client, latency_ms=300)

    started = time.monotonic()
    response = client.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]})
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.3


def test_timeout_voucher_redeems_then_hangs_once(client: httpx.Client) -> None:
    v = mint(client, failure="timeout")
    redeem = {"code": v["code"], "pin": v["pin"], "amount": 50000, "reference": "trade-9"}

    with pytest.raises(httpx.ReadTimeout):
        client.post("/vouchers/redeem", json=redeem, timeout=0.5)
    looked = client.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]}).json()
    retried = client.post("/vouchers/redeem", json=redeem, timeout=0.5)

    assert (looked["state"], looked["redeemed_by"]) == ("redeemed", "trade-9")
    assert retried.json() == {"reference": "trade-9", "amount": 50000}


def test_unknown_brand_is_refused(client: httpx.Client) -> None:
    response = client.post("/vouchers", json={"brand": "nope", "face_value": 1000})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "brand_unknown"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"brand": "test-brand", "face_value": 0}, "face_value"),
        ({"brand": "test-brand", "face_value": 1000, "balance": 1001}, None),
        ({"brand": "test-brand", "face_value": 1000, "state": "lost"}, "state"),
        ({"brand": "test-brand", "face_value": 1000, "latency_ms": 60001}, "latency_ms"),
        ({"brand": "test-brand", "face_value": 1000, "colour": "red"}, "colour"),
        ({"brand": "x" * 65, "face_value": 1000}, "brand"),
        ({"brand": "test-brand", "face_value": 1000, "issued_at": "yesterday"}, "issued_at"),
    ],
)
def test_bad_mint_requests_get_422(client: httpx.Client, payload: dict[str, Any], field: str | None) -> None:
    response = client.post("/vouchers", json=payload)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
    assert response.json()["error"]["field"] == field


def test_malformed_json_and_unknown_paths_keep_the_error_shape(client: httpx.Client) -> None:
    malformed = client.post(
        "/vouchers/redeem", content=b"{not json", headers={"content-type": "application/json"}
    )
    missing = client.get("/nowhere")

    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "invalid_input"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_state_survives_a_restart(state_dir: Path) -> None:
    first = create_sandbox_app(state_dir, BRANDS.get)
    with live_server(first) as url, httpx.Client(base_url=f"{url}/issuer") as c:
        v = mint(c)
        c.post(
            "/vouchers/redeem",
            json={"code": v["code"], "pin": v["pin"], "amount": 50000, "reference": "trade-1"},
        )

    second = create_sandbox_app(state_dir, BRANDS.get)
    with live_server(second) as url, httpx.Client(base_url=f"{url}/issuer") as c:
        looked = c.post("/vouchers/lookup", json={"code": v["code"], "pin": v["pin"]}).json()
        listed = c.get("/redemptions").json()

    assert (state_dir / "sandbox.db").is_file()
    assert (looked["state"], looked["redeemed_by"]) == ("redeemed", "trade-1")
    assert listed == {"redemptions": [{"reference": "trade-1", "amount": 50000, "brand": "test-brand"}]}
