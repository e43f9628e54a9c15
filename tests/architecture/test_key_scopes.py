"""Every /api/v1 route has a decision about API keys, in one table (api/scopes.py).

A new route fails here until someone names the scope a key needs for it, or says keys may not
call it: a route cannot be left open to keys, or closed to them, by forgetting.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.exchange import ShiftableClock, settings_for
from voucher_exchange.api import scopes
from voucher_exchange.api.app import create_app
from voucher_exchange.bootstrap import build_context
from voucher_exchange.db import migrate


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[scopes.Route]]:
    """(method, path template) of every route the app serves under /api/v1."""
    var_dir = tmp_path_factory.mktemp("key-scopes")
    ctx = build_context(
        settings_for(var_dir, f"sqlite:///{var_dir}/x.db"), "http://127.0.0.1:9", ShiftableClock()
    )
    try:
        migrate.upgrade(ctx.engine)
        app = create_app(ctx)
        spec = app.openapi()
        yield {
            (method.upper(), path)
            for path, operations in spec["paths"].items()
            if path.startswith(scopes.API_PREFIX + "/")
            for method in operations
        }
    finally:
        ctx.close()


def test_every_api_route_is_in_the_scope_table_or_refused_to_keys(served: set[scopes.Route]) -> None:
    decided = set(scopes.KEY_SCOPES) | scopes.SESSION_ONLY | scopes.NO_CREDENTIAL
    assert len(served) >= 30
    assert sorted(served - decided) == [], "add these routes to api/scopes.py"


def test_the_three_sets_do_not_overlap() -> None:
    keyed = set(scopes.KEY_SCOPES)
    assert keyed & scopes.SESSION_ONLY == set()
    assert keyed & scopes.NO_CREDENTIAL == set()
    assert set() == scopes.SESSION_ONLY & scopes.NO_CREDENTIAL


def test_the_table_names_no_route_that_is_not_served(served: set[scopes.Route]) -> None:
    decided = set(scopes.KEY_SCOPES) | scopes.SESSION_ONLY | scopes.NO_CREDENTIAL
    stale = decided - served
    assert sorted(stale) == []


def test_key_management_and_staff_routes_are_never_open_to_keys(served: set[scopes.Route]) -> None:
    closed = {
        r for r in served if "/api-keys" in r[1] or r[1].startswith(("/api/v1/review", "/api/v1/ledger"))
    }
    assert len(closed) >= 9
    assert closed <= scopes.SESSION_ONLY


def test_a_route_missing_from_the_table_is_refused_to_keys() -> None:
    assert scopes.required_scope(("POST", "/api/v1/some-new-route")) is None
    assert scopes.required_scope(("POST", "/api/v1/trades")) is scopes.Scope.TRADES_WRITE
