"""Every route an API key may change something through takes an `Idempotency-Key` (issue 23, item 5).

Partners retry by program: a request whose answer was lost must be safe to send again, and the
same key with a different body must be refused (409 `idempotency_key_reused`,
tests/e2e/test_idempotency.py). Read from the app's own `/openapi.json` and the one scope
table (`api/scopes.py`), so a new route a key can call cannot forget it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.exchange import ShiftableClock, settings_for
from voucher_exchange.api.app import create_app
from voucher_exchange.api.scopes import KEY_SCOPES
from voucher_exchange.bootstrap import build_context
from voucher_exchange.db import migrate

# Removing something twice removes it once: DELETE needs no key.
CHANGES = {"POST", "PUT", "PATCH"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    var_dir = tmp_path_factory.mktemp("key-routes")
    ctx = build_context(
        settings_for(var_dir, f"sqlite:///{var_dir}/x.db"), "http://127.0.0.1:9", ShiftableClock()
    )
    try:
        migrate.upgrade(ctx.engine)
        yield create_app(ctx).openapi()
    finally:
        ctx.close()


def takes_idempotency_key(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key"
        for p in operation.get("parameters", [])
    )


def routes_without_key(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Served routes a key may call that change something but take no `Idempotency-Key`."""
    missing = []
    for (method, path), _scope in KEY_SCOPES.items():
        operation = spec["paths"].get(path, {}).get(method.lower())
        if method in CHANGES and operation is not None and not takes_idempotency_key(operation):
            missing.append((method, path))
    return sorted(missing)


def test_every_changing_route_a_key_may_call_takes_an_idempotency_key(spec: dict[str, Any]) -> None:
    assert routes_without_key(spec) == []
    changing = [(m, p) for m, p in KEY_SCOPES if m in CHANGES and p in spec["paths"]]
    assert len(changing) >= 5  # quotes, trades, cancel, payout, appeal at least


def test_a_route_without_the_header_is_named() -> None:
    planted = {
        "paths": {
            "/api/v1/quotes": {"post": {"parameters": [{"in": "header", "name": "Idempotency-Key"}]}},
            "/api/v1/trades": {"post": {"parameters": []}},
        }
    }
    assert ("POST", "/api/v1/trades") in routes_without_key(planted)
    assert ("POST", "/api/v1/quotes") not in routes_without_key(planted)
