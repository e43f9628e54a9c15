"""Which API routes an API key may call, and with which scope: the one table.

Every route under /api/v1 is in exactly one of three sets (tests/architecture/test_key_scopes.py
fails when a route is added without a decision):

- `KEY_SCOPES`: a key whose scopes include the one named may call it;
- `SESSION_ONLY`: a signed-in person only, never a key (403 `insufficient_scope`): the account,
  its credentials and identity, adding bank accounts, managing keys themselves, staff routes;
- `NO_CREDENTIAL`: routes that take no credential at all (a key sent there is not looked at).

A route missing from the table is refused to keys all the same (the lookup answers None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voucher_exchange.apikeys.models import Scope

API_PREFIX = "/api/v1"
Route = tuple[str, str]  # (method, path template as served, e.g. "/api/v1/trades/{trade_id}")


def _api(method: str, path: str) -> Route:
    return method, API_PREFIX + path


KEY_SCOPES: dict[Route, Scope] = {
    _api("POST", "/quotes"): Scope.QUOTES_WRITE,
    _api("POST", "/trades"): Scope.TRADES_WRITE,
    _api("POST", "/trades/{trade_id}/cancel"): Scope.TRADES_WRITE,
    _api("POST", "/trades/{trade_id}/payout"): Scope.TRADES_WRITE,
    _api("POST", "/trades/{trade_id}/appeal"): Scope.TRADES_WRITE,
    _api("GET", "/trades"): Scope.TRADES_READ,
    _api("GET", "/trades/{trade_id}"): Scope.TRADES_READ,
    _api("GET", "/trades/{trade_id}/receipt"): Scope.RECEIPTS_READ,
    _api("GET", "/trades/{trade_id}/evidence"): Scope.TRADES_READ,
    _api("GET", "/me/payout-destinations"): Scope.PAYOUT_DESTINATIONS_READ,
    # Webhook endpoints (issue 23, item 3).
    _api("POST", "/webhook-endpoints"): Scope.WEBHOOKS_MANAGE,
    _api("GET", "/webhook-endpoints"): Scope.WEBHOOKS_MANAGE,
    _api("GET", "/webhook-endpoints/{endpoint_id}"): Scope.WEBHOOKS_MANAGE,
    _api("DELETE", "/webhook-endpoints/{endpoint_id}"): Scope.WEBHOOKS_MANAGE,
    _api("POST", "/webhook-endpoints/{endpoint_id}/rotate-secret"): Scope.WEBHOOKS_MANAGE,
    _api("GET", "/webhook-endpoints/{endpoint_id}/deliveries"): Scope.WEBHOOKS_MANAGE,
    _api("POST", "/webhook-endpoints/{endpoint_id}/replay"): Scope.WEBHOOKS_MANAGE,
    _api("POST", "/webhook-endpoints/{endpoint_id}/test"): Scope.WEBHOOKS_MANAGE,
    # Fraud reports (issue 24): anyone without a credential, or an issuer with this scope.
    _api("POST", "/fraud-reports"): Scope.FRAUD_REPORTS_WRITE,
}

SESSION_ONLY: frozenset[Route] = frozenset(
    {
        _api("DELETE", "/sessions"),
        _api("DELETE", "/sessions/current"),
        _api("GET", "/me"),
        _api("POST", "/me/identity"),
        _api("POST", "/me/email-verification"),
        _api("POST", "/me/payout-destinations"),
        _api("POST", "/me/identity/documents"),
        # Keys are managed by a signed-in person only: a leaked key cannot mint or keep itself alive.
        _api("POST", "/api-keys"),
        _api("GET", "/api-keys"),
        _api("POST", "/api-keys/{key_id}/roll"),
        _api("DELETE", "/api-keys/{key_id}"),
        # Staff routes (require() refuses keys before any lookup).
        _api("GET", "/review/trades"),
        _api("POST", "/review/trades/{trade_id}/decision"),
        _api("GET", "/review/appeals"),
        _api("POST", "/review/appeals/{trade_id}/decision"),
        _api("GET", "/ledger/balances"),
        _api("GET", "/review/identity-documents"),
        _api("GET", "/review/identity-documents/{document_id}/file"),
        _api("POST", "/review/identity-documents/{document_id}/decision"),
    }
)

NO_CREDENTIAL: frozenset[Route] = frozenset(
    {
        _api("POST", "/accounts"),
        _api("POST", "/sessions"),
        _api("POST", "/password-resets"),
        _api("POST", "/password-resets/{token}"),
        _api("POST", "/email-verifications/{token}"),
        _api("GET", "/brands"),
        _api("GET", "/transparency.json"),
    }
)


def required_scope(route: Route) -> Scope | None:
    """The scope a key needs for this route, or None: keys are refused there."""
    return KEY_SCOPES.get(route)


def route_template(scope: Mapping[str, Any]) -> str | None:
    """`/api/v1/trades/{trade_id}`: the matched route with its router prefix, never raw ids.

    The matched route's own path lacks the prefix its router was included with; the prefix is
    the part of the actual path before the route's own segments.
    """
    route_path = getattr(scope.get("route"), "path", None)
    if route_path is None:
        return None
    actual = [part for part in scope["path"].split("/") if part]
    suffix = [part for part in route_path.split("/") if part]
    return "/" + "/".join(actual[: len(actual) - len(suffix)] + suffix)
