"""`serve` takes the client's address from X-Forwarded-For only when the proxy is trusted.

uvicorn's `FORWARDED_ALLOW_IPS` names the trusted proxies (default 127.0.0.1). The risk
engine's per-IP features and the login-failure records read the address this yields;
`make bench` relies on it to give each simulated seller its own address.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.support.processes import serving


def _failed_login_from(url: str, tmp_path: Path, forwarded_for: str) -> str:
    response = httpx.post(
        url + "/api/v1/sessions",
        json={"email": "nobody@example.com", "password": "wrong-password"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    assert response.status_code == 401, response.text
    with sqlite3.connect(tmp_path / "var" / "voucher-exchange.db") as db:
        (address,) = db.execute("SELECT client_ip FROM login_failures").fetchone()
    return str(address)


def test_a_trusted_proxy_passes_the_client_address_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
    with serving(tmp_path, "--demo") as (url, _):
        assert _failed_login_from(url, tmp_path, "203.0.113.7") == "203.0.113.7"


def test_an_untrusted_peer_cannot_choose_its_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.9.9.9")
    with serving(tmp_path, "--demo") as (url, _):
        assert _failed_login_from(url, tmp_path, "203.0.113.7") == "127.0.0.1"
