"""`serve` takes the client's address from X-Forwarded-For only when the proxy is trusted.

uvicorn's `FORWARDED_ALLOW_IPS` names the trusted proxies (default 127.0.0.1). The risk
engine's per-IP features and the log-in throttle read the address this yields;
`make bench` relies on it to give each simulated seller its own address.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.support.processes import serving
from voucher_exchange.security.throttle import LOGIN_PER_IP
from voucher_exchange.security.vault import Vault, load_or_create_master_key


def _failed_login_from(url: str, tmp_path: Path, forwarded_for: str) -> set[str]:
    """The addresses the log-in throttle counted (its subjects are keyed: test both candidates)."""
    response = httpx.post(
        url + "/api/v1/sessions",
        json={"email": "nobody@example.com", "password": "wrong-password"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    assert response.status_code == 401, response.text
    var = tmp_path / "var"
    vault = Vault(load_or_create_master_key(var / "keys" / "master.key", create=False))
    with sqlite3.connect(var / "voucher-exchange.db") as db:
        subjects = {
            s for (s,) in db.execute("SELECT subject FROM rate_counters WHERE name = ?", (LOGIN_PER_IP.name,))
        }
    candidates = {forwarded_for, "127.0.0.1"}
    return {a for a in candidates if vault.fingerprint("throttle/" + LOGIN_PER_IP.name, a) in subjects}


def test_a_trusted_proxy_passes_the_client_address_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
    with serving(tmp_path, "--demo") as (url, _):
        assert _failed_login_from(url, tmp_path, "203.0.113.7") == {"203.0.113.7"}


def test_an_untrusted_peer_cannot_choose_its_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.9.9.9")
    with serving(tmp_path, "--demo") as (url, _):
        assert _failed_login_from(url, tmp_path, "203.0.113.7") == {"127.0.0.1"}
