"""The simulated identity vendor's HTTP API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import live_server
from voucher_exchange.sandbox.app import create_sandbox_app
from voucher_exchange.sandbox.identity import check_identity

PERSON = {"legal_name": "김민수", "birth_date": "1990-05-17", "phone": "010-1234-5678"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    app = create_sandbox_app(tmp_path / "sandbox", lambda _: None)
    with live_server(app) as url, httpx.Client(base_url=f"{url}/identity") as c:
        yield c


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, {"verified": True, "reason": None}),
        ({"phone": "01012345678"}, {"verified": True, "reason": None}),
        ({"phone": "011 123 4567"}, {"verified": True, "reason": None}),
        ({"phone": "+14155550123"}, {"verified": True, "reason": None}),
        ({"phone": "02-123-4567"}, {"verified": False, "reason": "phone_invalid"}),
        ({"phone": "010-1234-56789"}, {"verified": False, "reason": "phone_invalid"}),
        ({"phone": "+1234567"}, {"verified": False, "reason": "phone_invalid"}),
        ({"phone": ""}, {"verified": False, "reason": "phone_invalid"}),
        ({"legal_name": "  "}, {"verified": False, "reason": "identity_invalid"}),
        ({"birth_date": "2999-01-01"}, {"verified": False, "reason": "identity_invalid"}),
    ],
)
def test_check(client: httpx.Client, changes: dict[str, Any], verdict: dict[str, Any]) -> None:
    response = client.post("/checks", json={**PERSON, **changes})

    assert response.status_code == 200
    assert response.json() == verdict


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"birth_date": "1990-13-01"}, "birth_date"),
        ({"legal_name": "가" * 201}, "legal_name"),
        ({"phone": "0" * 33}, "phone"),
    ],
)
def test_malformed_checks_get_422(client: httpx.Client, changes: dict[str, Any], field: str) -> None:
    response = client.post("/checks", json={**PERSON, **changes})

    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_a_birth_date_of_today_is_accepted() -> None:
    today = date(2025, 6, 1)

    assert check_identity("김민수", today, "01012345678", today) is None
    assert check_identity("김민수", date(2025, 6, 2), "01012345678", today) == "identity_invalid"
