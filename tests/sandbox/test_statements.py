"""The sandbox's daily statements (issuer settlement file, bank statement), over real HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.sandbox.test_issuer_sandbox import BRANDS
from tests.support.live_server import live_server
from voucher_exchange.clock import FrozenClock
from voucher_exchange.sandbox.app import create_sandbox_app
from voucher_exchange.sandbox.statements import ISSUER_HEADER, RAIL_HEADER

START = datetime(2026, 11, 26, 23, 50, 0, 250000, tzinfo=UTC)


@dataclass
class Sandbox:
    http: httpx.Client
    clock: FrozenClock


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    clock = FrozenClock(START)
    app = create_sandbox_app(tmp_path / "sandbox", BRANDS.get, hang_seconds=2.0, clock=clock)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=5.0) as client:
        yield Sandbox(client, clock)


def _rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.text)))


def _redeem(sandbox: Sandbox, reference: str, face_value: int) -> dict[str, str]:
    minted = sandbox.http.post("/issuer/vouchers", json={"brand": "test-brand", "face_value": face_value})
    voucher: dict[str, str] = minted.json()
    answer = sandbox.http.post(
        "/issuer/vouchers/redeem",
        json={"code": voucher["code"], "pin": voucher["pin"], "amount": face_value, "reference": reference},
    )
    assert answer.status_code == 200, answer.text
    return voucher


def test_the_issuer_statement_lists_that_days_redemptions_without_codes(sandbox: Sandbox) -> None:
    _redeem(sandbox, "trade-before", 10000)  # 2026-11-26 23:50 UTC: the day before
    sandbox.clock.advance(timedelta(minutes=10))
    first = _redeem(sandbox, "trade-a", 50000)  # 2026-11-27 00:00:00.25
    sandbox.clock.advance(timedelta(hours=3, seconds=1))
    second = _redeem(sandbox, "trade-b", 30000)  # 03:00:01.25

    response = sandbox.http.get("/issuer/statements", params={"date": "2026-11-27"})

    assert _rows(response) == [
        list(ISSUER_HEADER),
        ["2026-11-27", "1", "REDEMPTION", "trade-a", "V00000002", first["code"][-4:], "test-brand", "50000",
         "KRW", "2026-11-27T00:00:00.250000Z"],
        ["2026-11-27", "2", "REDEMPTION", "trade-b", "V00000003", second["code"][-4:], "test-brand", "30000",
         "KRW", "2026-11-27T03:00:01.250000Z"],
    ]  # fmt: skip
    assert first["code"] not in response.text and second["code"] not in response.text
    before = sandbox.http.get("/issuer/statements", params={"date": "2026-11-26"})
    assert [row[3] for row in _rows(before)[1:]] == ["trade-before"]


def test_an_issuer_statement_of_a_quiet_day_is_the_header_alone(sandbox: Sandbox) -> None:
    response = sandbox.http.get("/issuer/statements", params={"date": "2026-01-01"})

    assert response.text == ",".join(ISSUER_HEADER) + "\r\n"
    assert response.headers["content-disposition"] == 'attachment; filename="issuer-statement-2026-01-01.csv"'


def test_the_rail_statement_shows_debits_and_returns_of_that_day(sandbox: Sandbox) -> None:
    account = {"bank_code": "004", "account_number": "110123456789", "holder_name": "김민수"}
    closed = {"bank_code": "088", "account_number": "220987654321", "holder_name": "이서연"}
    assert sandbox.http.post("/rail/accounts", json=account).status_code == 201
    assert sandbox.http.post("/rail/accounts", json={**closed, "behavior": "reject"}).status_code == 201

    def send(key: str, target: dict[str, str], amount: int) -> dict[str, str]:
        body = {"idempotency_key": key, **target, "amount": amount, "currency": "KRW"}
        answer: dict[str, str] = sandbox.http.post("/rail/transfers", json=body).json()
        return answer

    send("vx-payout-old", account, 1000)  # the day before
    sandbox.clock.advance(timedelta(minutes=15))
    paid = send("vx-payout-1", account, 45500)
    send("vx-payout-1", account, 45500)  # a retry: the rail deduplicates it
    sandbox.clock.advance(timedelta(seconds=30))
    send("vx-payout-2", closed, 27000)

    response = sandbox.http.get("/rail/statements", params={"date": "2026-11-27"})

    assert _rows(response) == [
        list(RAIL_HEADER),
        ["2026-11-27", "1", "DEBIT", "vx-payout-1", paid["rail_reference"], "004", "********6789", "45500",
         "KRW", "2026-11-27T00:05:00.250000Z"],
        ["2026-11-27", "2", "RETURN", "vx-payout-2", "", "088", "********4321", "27000", "KRW",
         "2026-11-27T00:05:30.250000Z"],
    ]  # fmt: skip
    assert "110123456789" not in response.text and "김민수" not in response.text


def test_a_statement_needs_a_real_date(sandbox: Sandbox) -> None:
    for path in ("/issuer/statements", "/rail/statements"):
        missing = sandbox.http.get(path)
        wrong = sandbox.http.get(path, params={"date": "2026-13-01"})

        assert (missing.status_code, missing.json()["error"]["code"]) == (422, "invalid_input")
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "invalid_input")
