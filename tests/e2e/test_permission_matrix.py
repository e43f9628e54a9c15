"""Who may call what: every API route and every web page × seven kinds of visitor, as one table.

The visitors: anonymous, the seller who owns the trade in question, another seller, a
signed-up seller who never verified, a reviewer, an operator, and a staff member who may
only reveal codes. Each cell is the status the route must answer. Requests are shaped so
that a visitor who gets through does no harm (unknown ids, invalid outcomes, same values),
which is why some allowed cells are a 404 or a 422: the refusal came after the permission
check, from the use case itself.

The table is checked to cover every route the app serves (tests/e2e/test_permission_matrix.py
fails when a route is added without a row here).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import database_url
from tests.support.exchange import Exchange, make_seller, new_account, running_exchange
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts.models import Role
from voucher_exchange.api.routes import accounts as api_accounts
from voucher_exchange.api.routes import api_keys as api_api_keys
from voucher_exchange.api.routes import catalog as api_catalog
from voucher_exchange.api.routes import fraud as api_fraud
from voucher_exchange.api.routes import identity_documents as api_identity_documents
from voucher_exchange.api.routes import receipts as api_receipts
from voucher_exchange.api.routes import staff as api_staff
from voucher_exchange.api.routes import trades as api_trades
from voucher_exchange.api.routes import webhooks as api_webhooks
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD
from voucher_exchange.web import (
    account_security,
    developer_endpoints,
    developers,
    fraud,
    identity_document,
    issuers,
    operator,
    reconciliation,
    review,
    seller,
    selling,
    shell,
)
from voucher_exchange.web import receipts as web_receipts
from voucher_exchange.web import recovery as web_recovery
from voucher_exchange.web import two_factor as web_two_factor

PERSONAS = ("anonymous", "seller", "other_seller", "unverified", "reviewer", "operator", "reveal_only")
PASSWORD = "correct-horse-battery"
GHOST = "00000000-0000-4000-8000-000000000000"  # an id nobody has


@dataclass
class World:
    exchange: Exchange
    logins: dict[str, tuple[str | None, str | None]]
    api: dict[str, httpx.Client]
    web: dict[str, httpx.Client]
    csrf: dict[str, str]
    trade_id: str
    quote_id: str
    refused_id: str
    webhook_id: str


def _api_client(exchange: Exchange, email: str | None, password: str | None) -> httpx.Client:
    headers = {}
    if email:
        token = httpx.post(
            exchange.base_url + "/api/v1/sessions", json={"email": email, "password": password}
        )
        headers["Authorization"] = f"Bearer {token.json()['token']}"
    return httpx.Client(base_url=exchange.base_url + "/api/v1", headers=headers, timeout=30)


def _web_client(exchange: Exchange, email: str | None, password: str | None) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=exchange.base_url, timeout=30, follow_redirects=False)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token
    if email:
        answer = client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
        )
        assert answer.status_code == 303, answer.text
        page = client.get("/account").text
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
        assert token
    return client, token.group(1)


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    var_dir: Path = tmp_path_factory.mktemp("var-matrix")
    with running_exchange(var_dir, database_url(request, "sqlite", var_dir, "vx_matrix")) as exchange:
        owner = make_seller(exchange)
        voucher = exchange.mint("google-play-kr", 150000)
        trade = owner.api.wait_for(owner.sell(voucher, "google-play-kr", 150000))
        assert trade["status"] == "in_review"
        refused = owner.api.wait_for(owner.sell(exchange.mint("cultureland", 5000), "cultureland", 5000,
                                                method="carrier_billing"))  # fmt: skip
        assert refused["status"] == "rejected"
        quote_id = owner.quote()["id"]
        other = make_seller(exchange)
        hook = owner.api.post(
            "/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "events": ["trade.paid"]}
        )
        assert hook.status_code == 201, hook.text
        _, unverified_email = new_account(exchange)
        ctx = exchange.ctx
        staff = {}
        with ctx.uow() as uow:
            for name, role in (("reviewer", Role.REVIEWER), ("reveal_only", Role.REVEAL_CODES)):
                email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
                accounts.create_staff(uow.conn, email, PASSWORD, role, ctx.clock.now())
                staff[name] = email
            uow.commit()
        logins: dict[str, tuple[str | None, str | None]] = {
            "anonymous": (None, None),
            "seller": (owner.email, PASSWORD),
            "other_seller": (other.email, PASSWORD),
            "unverified": (unverified_email, PASSWORD),
            "reviewer": (staff["reviewer"], PASSWORD),
            "operator": (DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD),
            "reveal_only": (staff["reveal_only"], PASSWORD),
        }
        api, web, csrf = {}, {}, {}
        for persona, (email, password) in logins.items():
            api[persona] = _api_client(exchange, email, password)
            web[persona], csrf[persona] = _web_client(exchange, email, password)
        yield World(
            exchange,
            logins,
            api,
            web,
            csrf,
            str(trade["id"]),
            str(quote_id),
            str(refused["id"]),
            hook.json()["id"],
        )


# ---- the table ---------------------------------------------------------------------------------
# Columns follow PERSONAS: anonymous, seller, other_seller, unverified, reviewer, operator, reveal_only.
def row(
    anonymous: int, seller: int, other: int, unverified: int, reviewer: int, operator: int, reveal: int
) -> tuple[int, ...]:
    return (anonymous, seller, other, unverified, reviewer, operator, reveal)


OPEN = row(200, 200, 200, 200, 200, 200, 200)
SIGNED_IN = row(401, 200, 200, 200, 200, 200, 200)

# (method, path template, body, expected statuses). {trade} is the seller's held trade.
API: list[tuple[str, str, Any, tuple[int, ...]]] = [
    (
        "POST",
        "/accounts",
        {"email": "not-an-email", "password": PASSWORD},
        row(422, 422, 422, 422, 422, 422, 422),
    ),
    (
        "POST",
        "/sessions",
        {"email": "nobody@example.com", "password": "wrong-password"},
        row(401, 401, 401, 401, 401, 401, 401),
    ),
    ("POST", "/password-resets", {"email": "nobody@example.com"}, row(202, 202, 202, 202, 202, 202, 202)),
    ("POST", "/password-resets/{token}", {"password": PASSWORD}, row(422, 422, 422, 422, 422, 422, 422)),
    ("POST", "/email-verifications/{token}", None, row(422, 422, 422, 422, 422, 422, 422)),
    ("POST", "/me/email-verification", None, row(401, 202, 202, 202, 202, 202, 202)),
    ("DELETE", "/sessions/current", None, row(401, 204, 204, 204, 204, 204, 204)),
    ("DELETE", "/sessions", None, row(401, 204, 204, 204, 204, 204, 204)),
    ("GET", "/me", None, SIGNED_IN),
    (
        "POST",
        "/me/identity",
        {"legal_name": "X", "birth_date": "2999-01-01", "phone": "x"},
        row(401, 422, 422, 422, 422, 422, 422),
    ),
    ("POST", "/me/payout-destinations", {"kind": "bank_account"}, row(401, 422, 422, 422, 422, 422, 422)),
    ("GET", "/me/payout-destinations", None, SIGNED_IN),
    ("POST", "/api-keys", {"name": "x", "scopes": []}, row(401, 422, 422, 422, 422, 422, 422)),
    ("GET", "/api-keys", None, SIGNED_IN),
    ("POST", "/api-keys/" + GHOST + "/roll", None, row(401, 404, 404, 404, 404, 404, 404)),
    ("DELETE", "/api-keys/" + GHOST, None, row(401, 404, 404, 404, 404, 404, 404)),
    ("GET", "/brands", None, OPEN),
    (
        "POST",
        "/quotes",
        {"brand": "no-such-brand", "face_value": {"amount": 1, "currency": "KRW"}},
        row(401, 404, 404, 404, 404, 404, 404),
    ),
    ("POST", "/trades", {}, row(401, 422, 422, 422, 422, 422, 422)),
    ("GET", "/trades", None, SIGNED_IN),
    ("GET", "/trades/{trade}", None, row(401, 200, 404, 404, 404, 404, 404)),
    ("POST", "/trades/" + GHOST + "/cancel", None, row(401, 404, 404, 404, 404, 404, 404)),
    ("POST", "/trades/{refused}/cancel", None, row(401, 409, 404, 404, 404, 404, 404)),
    (
        "POST",
        "/trades/{trade}/payout",
        {"payout_destination_id": GHOST},
        row(401, 409, 404, 404, 404, 404, 404),
    ),
    ("POST", "/trades/{trade}/appeal", {"note": "x"}, row(401, 409, 404, 404, 404, 404, 404)),
    ("GET", "/trades/{trade}/receipt", None, row(401, 409, 404, 404, 404, 404, 404)),
    ("GET", "/trades/{trade}/evidence", None, row(401, 409, 404, 404, 404, 404, 404)),  # held: no record
    ("GET", "/review/trades", None, row(401, 403, 403, 403, 200, 200, 403)),
    ("GET", "/review/appeals", None, row(401, 403, 403, 403, 200, 200, 403)),
    (
        "POST",
        "/review/appeals/{trade}/decision",
        {"outcome": "upheld", "note": "x"},
        row(401, 403, 403, 403, 404, 404, 403),
    ),
    (
        "POST",
        "/review/trades/{trade}/decision",
        {"outcome": "maybe", "note": "x"},
        row(401, 403, 403, 403, 422, 422, 403),
    ),
    ("GET", "/ledger/balances", None, row(401, 403, 403, 403, 403, 200, 403)),
    # KYC tier 2: a JSON body is not the multipart upload (422); the review routes need a reviewer.
    ("POST", "/me/identity/documents", {}, row(401, 422, 422, 422, 422, 422, 422)),
    ("GET", "/review/identity-documents", None, row(401, 403, 403, 403, 200, 200, 403)),
    ("GET", "/review/identity-documents/" + GHOST + "/file", None, row(401, 403, 403, 403, 404, 404, 403)),
    (
        "POST",
        "/review/identity-documents/" + GHOST + "/decision",
        {"outcome": "maybe"},
        row(401, 403, 403, 403, 422, 422, 403),
    ),
    # Webhook endpoints, the owner's own (scope `webhooks:manage` with a key); {webhook} is the seller's.
    (
        "POST",
        "/webhook-endpoints",
        {"url": "ftp://example.com/", "events": ["trade.paid"]},
        row(401, 422, 422, 422, 422, 422, 422),
    ),
    ("GET", "/webhook-endpoints", None, SIGNED_IN),
    ("GET", "/webhook-endpoints/{webhook}", None, row(401, 200, 404, 404, 404, 404, 404)),
    ("DELETE", "/webhook-endpoints/" + GHOST, None, row(401, 404, 404, 404, 404, 404, 404)),
    ("POST", "/webhook-endpoints/{webhook}/rotate-secret", {}, row(401, 201, 404, 404, 404, 404, 404)),
    ("GET", "/webhook-endpoints/{webhook}/deliveries", None, row(401, 200, 404, 404, 404, 404, 404)),
    (
        "POST",
        "/webhook-endpoints/{webhook}/replay",
        {"since": "2999-01-01T00:00:00Z"},
        row(401, 422, 404, 404, 404, 404, 404),
    ),
    ("POST", "/webhook-endpoints/" + GHOST + "/test", None, row(401, 404, 404, 404, 404, 404, 404)),
    # Anyone may report (a session token is not looked at): a report without codes is refused alike.
    (
        "POST",
        "/fraud-reports",
        {"codes": [], "reporter": {"name": "x", "contact": "x@example.com"}, "description": "x"},
        row(422, 422, 422, 422, 422, 422, 422),
    ),
]

LOGIN = 303  # a web page sends an anonymous visitor to /login
WEB: list[tuple[str, str, dict[str, str] | None, tuple[int, ...]]] = [
    ("GET", "/", None, OPEN),
    ("GET", "/calculator", None, OPEN),
    ("POST", "/language", {"lang": "ko", "next": "/"}, row(303, 303, 303, 303, 303, 303, 303)),
    ("GET", "/signup", None, OPEN),
    (
        "POST",
        "/signup",
        {"email": "not-an-email", "password": PASSWORD},
        row(422, 422, 422, 422, 422, 422, 422),
    ),
    ("GET", "/login", None, OPEN),
    (
        "POST",
        "/login",
        {"email": "nobody@example.com", "password": "wrong-password"},
        row(401, 401, 401, 401, 401, 401, 401),
    ),
    ("GET", "/password-reset", None, OPEN),
    ("GET", "/fraud-report", None, OPEN),
    (
        "POST",
        "/fraud-report",
        {"codes": "", "name": "x", "contact": "x@example.com", "description": "x"},
        row(422, 422, 422, 422, 422, 422, 422),
    ),
    ("GET", "/staff/fraud", None, row(LOGIN, 403, 403, 403, 200, 200, 403)),
    ("GET", "/staff/fraud/" + GHOST, None, row(LOGIN, 403, 403, 403, 404, 404, 403)),
    (
        "POST",
        "/staff/fraud/" + GHOST + "/trades/" + GHOST,
        {"action": "hold", "note": "x"},
        row(LOGIN, 403, 403, 403, 404, 404, 403),
    ),
    ("POST", "/staff/fraud/" + GHOST + "/close", {"note": "x"}, row(LOGIN, 403, 403, 403, 404, 404, 403)),
    ("POST", "/staff/fraud/" + GHOST + "/file", {}, row(LOGIN, 403, 403, 403, 404, 404, 403)),
    ("POST", "/password-reset", {"email": "nobody@example.com"}, OPEN),  # the same answer for anyone
    ("GET", "/password-reset/{token}", None, row(422, 422, 422, 422, 422, 422, 422)),
    ("POST", "/password-reset/{token}", {"password": PASSWORD}, row(422, 422, 422, 422, 422, 422, 422)),
    ("GET", "/signup/sent", None, OPEN),
    ("GET", "/verify-email/{token}", None, row(422, 422, 422, 422, 422, 422, 422)),
    ("POST", "/verify-email/{token}", {}, row(422, 422, 422, 422, 422, 422, 422)),
    ("GET", "/account/security", None, row(LOGIN, 200, 200, 200, 200, 200, 200)),
    ("GET", "/login/code", None, OPEN),
    ("POST", "/login/code", {"totp": "000000"}, row(303, 303, 303, 303, 303, 303, 303)),  # no password step
    ("GET", "/account/two-factor", None, row(LOGIN, 403, 403, 403, 200, 200, 403)),
    ("POST", "/account/two-factor", {"totp": "000000"}, row(LOGIN, 403, 403, 403, 401, 401, 403)),
    ("POST", "/account/two-factor/restart", {}, row(LOGIN, 403, 403, 403, 200, 200, 403)),
    (
        "POST",
        "/account/security/password",
        {"current_password": "wrong-password", "password": PASSWORD},
        row(LOGIN, 401, 401, 401, 401, 401, 401),
    ),
    (
        "POST",
        "/account/security/email",
        {"email": "nobody@example.com", "password": "wrong-password"},
        row(LOGIN, 401, 401, 401, 401, 401, 401),
    ),
    ("POST", "/account/security/verification", {}, row(LOGIN, 303, 303, 303, 303, 303, 303)),
    ("POST", "/account/security/sign-out-others", {}, row(LOGIN, 303, 303, 303, 303, 303, 303)),
    ("GET", "/account/security/delete", None, row(LOGIN, 200, 200, 200, 200, 200, 200)),
    (
        "POST",
        "/account/security/delete",
        {"password": "wrong-password"},
        row(LOGIN, 401, 401, 401, 401, 401, 401),
    ),
    (
        "POST",
        "/account/security/close",
        {"password": "wrong-password"},
        row(LOGIN, 401, 401, 401, 401, 401, 401),
    ),
    ("POST", "/logout", {}, row(303, 303, 303, 303, 303, 303, 303)),
    ("POST", "/account/sign-out-everywhere", {}, row(LOGIN, 303, 303, 303, 303, 303, 303)),
    ("GET", "/account", None, row(LOGIN, 200, 200, 200, 200, 200, 200)),
    # The developers page: any account sees it (staff without may_sell are told it is for sellers);
    # only selling accounts change anything. Nobody's key is GHOST: 404 after the permission check.
    ("GET", "/account/developers", None, row(LOGIN, 200, 200, 200, 200, 200, 200)),
    ("POST", "/account/developers/keys", {"name": "x"}, row(LOGIN, 422, 422, 422, 403, 403, 422)),
    ("POST", "/account/developers/keys/" + GHOST + "/roll", {}, row(LOGIN, 404, 404, 404, 403, 403, 404)),
    ("POST", "/account/developers/keys/" + GHOST + "/revoke", {}, row(LOGIN, 404, 404, 404, 403, 403, 404)),
    # Endpoints: {webhook} is the seller's own; refused requests (no event, a bad time) make nothing.
    ("GET", "/account/developers/endpoints/{webhook}", None, row(LOGIN, 200, 404, 404, 403, 403, 404)),
    ("POST", "/account/developers/endpoints", {"url": "x"}, row(LOGIN, 422, 422, 422, 403, 403, 422)),
    (
        "POST",
        "/account/developers/endpoints/" + GHOST + "/test",
        {},
        row(LOGIN, 404, 404, 404, 403, 403, 404),
    ),
    (
        "POST",
        "/account/developers/endpoints/{webhook}/rotate-secret",
        {"overlap_hours": "never"},
        row(LOGIN, 422, 404, 404, 403, 403, 404),
    ),
    (
        "POST",
        "/account/developers/endpoints/{webhook}/replay",
        {"since": "not a time"},
        row(LOGIN, 422, 404, 404, 403, 403, 404),
    ),
    (
        "POST",
        "/account/developers/endpoints/" + GHOST + "/delete",
        {},
        row(LOGIN, 404, 404, 404, 403, 403, 404),
    ),
    (
        "POST",
        "/account/identity",
        {"legal_name": "X", "birth_date": "bad", "phone": "x"},
        row(LOGIN, 422, 422, 422, 422, 422, 422),
    ),
    (
        "POST",
        "/account/payout-accounts",
        {"bank_code": "004", "account_number": "1", "holder_name": "Nobody Else"},
        row(LOGIN, 422, 422, 422, 422, 422, 422),
    ),
    # The holder check's answer, once the seller confirms it: a token that is not ours (here well
    # formed, so the cipher itself refuses it) has expired.
    (
        "POST",
        "/account/payout-accounts/confirm",
        {"check": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        row(LOGIN, 422, 422, 422, 422, 422, 422),
    ),
    ("POST", "/account/payout-accounts/" + GHOST + "/default", {}, row(LOGIN, 404, 404, 404, 404, 404, 404)),
    ("POST", "/account/payout-accounts/" + GHOST + "/remove", {}, row(LOGIN, 404, 404, 404, 404, 404, 404)),
    ("GET", "/account/payout-accounts/" + GHOST + "/remove", None, row(LOGIN, 404, 404, 404, 404, 404, 404)),
    ("POST", "/quotes", {"brand": "no-such-brand", "face": "1"}, row(LOGIN, 404, 404, 404, 404, 404, 404)),
    ("GET", "/sell/batch", None, row(LOGIN, 200, 200, 200, 200, 200, 200)),
    (
        "POST",
        "/sell/batch",
        {
            "brand": "no-such-brand",
            "face": "1",
            "method": "gift",
            "acquired_on": "2026-11-01",
            "payout_destination_id": GHOST,
        },
        row(LOGIN, 422, 422, 422, 422, 422, 422),
    ),
    # A batch is sold once, by its own seller: an unknown (or someone else's) batch is not.
    ("POST", "/sell/batch/" + GHOST, {}, row(LOGIN, 409, 409, 409, 409, 409, 409)),
    ("GET", "/sell/batch/" + GHOST, None, row(LOGIN, 404, 404, 404, 404, 404, 404)),
    ("GET", "/sell/batch/" + GHOST + "/lines", None, row(LOGIN, 404, 404, 404, 404, 404, 404)),
    # Someone else's quote gets the answer a quote that does not exist gets (quote_unknown).
    ("GET", "/sell/{quote}", None, row(LOGIN, 200, 422, 422, 422, 422, 422)),
    (
        "POST",
        "/sell/" + GHOST,
        {"code": "1", "method": "gift", "acquired_on": "2026-11-01", "payout_destination_id": GHOST},
        row(LOGIN, 422, 422, 422, 422, 422, 422),
    ),
    ("GET", "/trades", None, row(LOGIN, 200, 200, 200, 200, 200, 200)),
    ("GET", "/trades/{trade}", None, row(LOGIN, 200, 404, 404, 404, 404, 404)),
    ("GET", "/trades/{trade}/timeline", None, row(LOGIN, 200, 404, 404, 404, 404, 404)),
    ("GET", "/trades/{trade}/receipt", None, row(LOGIN, 409, 404, 404, 404, 404, 404)),  # not paid yet
    ("GET", "/trades/{trade}/receipt.json", None, row(LOGIN, 409, 404, 404, 404, 404, 404)),
    ("GET", "/trades/{trade}/evidence.json", None, row(LOGIN, 409, 404, 404, 404, 404, 404)),
    (
        "POST",
        "/trades/{trade}/payout",
        {"payout_destination_id": GHOST},
        row(LOGIN, 409, 404, 404, 404, 404, 404),
    ),
    ("POST", "/trades/{trade}/appeal", {"note": "x"}, row(LOGIN, 409, 404, 404, 404, 404, 404)),
    ("GET", "/receipts/verify", None, OPEN),
    ("POST", "/receipts/verify", {"receipt": "{}"}, row(422, 422, 422, 422, 422, 422, 422)),  # not a receipt
    (
        "POST",
        "/staff/review/appeals/{trade}",
        {"outcome": "upheld", "note": "x"},
        row(LOGIN, 403, 403, 403, 404, 404, 403),
    ),
    ("GET", "/staff/reconciliation", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    ("GET", "/staff/reconciliation/runs/" + GHOST, None, row(LOGIN, 403, 403, 403, 403, 404, 403)),
    # The issuer guard's page is the operator's alone.
    ("GET", "/staff/issuers", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    (
        "POST",
        "/staff/issuers/" + GHOST + "/facts",
        {"name": "x", "registration_status": "unknown"},
        row(LOGIN, 403, 403, 403, 403, 404, 403),
    ),
    (
        "POST",
        "/staff/issuers/rules",
        {"signal": "rumours", "threshold": "1", "action": "suspend"},
        row(LOGIN, 403, 403, 403, 403, 422, 403),
    ),
    (
        "POST",
        "/staff/issuers/rules/" + GHOST + "/enabled",
        {"enabled": "no"},
        row(LOGIN, 403, 403, 403, 403, 404, 403),
    ),
    ("POST", "/staff/issuers/actions/" + GHOST + "/lift", {}, row(LOGIN, 403, 403, 403, 403, 404, 403)),
    ("POST", "/staff/issuers/evaluate", {}, row(LOGIN, 403, 403, 403, 403, 303, 403)),
    ("POST", "/trades/" + GHOST + "/cancel", {}, row(LOGIN, 404, 404, 404, 404, 404, 404)),
    ("GET", "/trades/" + GHOST + "/cancel", None, row(LOGIN, 404, 404, 404, 404, 404, 404)),
    ("GET", "/staff/review", None, row(LOGIN, 403, 403, 403, 200, 200, 403)),
    ("GET", "/staff/review/{trade}", None, row(LOGIN, 403, 403, 403, 200, 200, 403)),
    ("GET", "/staff/review/sellers/" + GHOST, None, row(LOGIN, 403, 403, 403, 404, 404, 403)),
    (
        "POST",
        "/staff/review/" + GHOST + "/decision",
        {"outcome": "approve", "note": "x"},
        row(LOGIN, 403, 403, 403, 404, 404, 403),
    ),
    # Revealing needs the review pages (reviewer) and reveal_codes: the demo operator holds both;
    # a reveal-only account cannot open the review pages at all.
    # The held trade's voucher is not redeemed: even the operator sees its code only after a second
    # staff member with reveal_codes approves their request (four eyes).
    ("POST", "/staff/review/{trade}/reveal", {}, row(LOGIN, 403, 403, 403, 403, 403, 403)),
    ("POST", "/staff/review/{trade}/reveal-request", {}, row(LOGIN, 403, 403, 403, 403, 303, 403)),
    (
        "POST",
        "/staff/review/reveal-requests/" + GHOST + "/approve",
        {},
        row(LOGIN, 403, 403, 403, 403, 404, 403),
    ),
    ("GET", "/staff", None, row(LOGIN, 403, 403, 403, 303, 200, 403)),  # a reviewer is sent on to the queue
    ("GET", "/staff/brands", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    ("GET", "/staff/brands/cultureland", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    (
        "POST",
        "/staff/brands/no-such-brand/rates",
        {"start": "0", "rate": "90"},
        row(LOGIN, 403, 403, 403, 403, 404, 403),
    ),
    (
        "POST",
        "/staff/brands/no-such-brand/status",
        {"status": "active"},
        row(LOGIN, 403, 403, 403, 403, 404, 403),
    ),
    ("GET", "/staff/ledger", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    ("GET", "/staff/payouts", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    ("POST", "/staff/payouts/" + GHOST + "/retry", {}, row(LOGIN, 403, 403, 403, 403, 404, 403)),
    (
        "POST",
        "/staff/treasury/fund",
        {"amount": "x", "reference": "matrix"},
        row(LOGIN, 403, 403, 403, 403, 422, 403),
    ),
    (
        "POST",
        "/staff/promise",
        {"minutes": "x", "compensation_percent": "100", "window_start": "23:30", "window_end": "00:30"},
        row(LOGIN, 403, 403, 403, 403, 422, 403),
    ),
    ("GET", "/staff/audit", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    ("GET", "/staff/team", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    (
        "POST",
        "/staff/team",
        {"email": "x", "password": "x", "role": "nobody"},
        row(LOGIN, 403, 403, 403, 403, 422, 403),
    ),
    ("POST", "/staff/team/" + GHOST + "/roles", {}, row(LOGIN, 403, 403, 403, 403, 404, 403)),
    ("POST", "/staff/team/requests/" + GHOST + "/approve", {}, row(LOGIN, 403, 403, 403, 403, 404, 403)),
    ("POST", "/staff/team/requests/" + GHOST + "/decline", {}, row(LOGIN, 403, 403, 403, 403, 404, 403)),
    # The trust shell: information pages for everyone, the business profile and consent texts for operators.
    ("GET", "/how-it-works", None, OPEN),
    ("GET", "/fees", None, OPEN),
    ("GET", "/faq", None, OPEN),
    ("GET", "/terms", None, OPEN),
    ("GET", "/privacy", None, OPEN),
    ("GET", "/staff/business", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    (
        "POST",
        "/staff/business",
        {
            "business_name": "x",
            "representative": "x",
            "registration_number": "x",
            "mail_order_number": "x",
            "address": "x",
            "support_phone": "x",
            "support_email": "not-an-email",
            "support_hours": "x",
        },
        row(LOGIN, 403, 403, 403, 403, 422, 403),
    ),
    ("GET", "/staff/terms", None, row(LOGIN, 403, 403, 403, 403, 200, 403)),
    # KYC tier 2: the seller's upload page (no file: 422), the reviewers' queue, document and decision.
    ("GET", "/account/identity-document", None, row(LOGIN, 200, 200, 200, 200, 200, 200)),
    ("POST", "/account/identity-document", {"kind": "id_card"}, row(LOGIN, 422, 422, 422, 422, 422, 422)),
    ("GET", "/staff/identity-documents", None, row(LOGIN, 403, 403, 403, 200, 200, 403)),
    ("GET", "/staff/identity-documents/" + GHOST, None, row(LOGIN, 403, 403, 403, 404, 404, 403)),
    ("GET", "/staff/identity-documents/" + GHOST + "/file", None, row(LOGIN, 403, 403, 403, 404, 404, 403)),
    (
        "POST",
        "/staff/identity-documents/" + GHOST + "/decision",
        {"outcome": "maybe"},
        row(LOGIN, 403, 403, 403, 404, 404, 403),
    ),
    (
        "POST",
        "/staff/terms",
        {
            "kind": "nobody",
            "title": "x",
            "body": "x",
            "title_en": "x",
            "body_en": "x",
            "effective_on": "2030-01-01",
        },
        row(LOGIN, 403, 403, 403, 403, 422, 403),
    ),
]

# Log-out cells end the visitor's session: they run on sessions of their own.
ENDS_SESSION = {
    ("DELETE", "/sessions/current"),
    ("DELETE", "/sessions"),
    ("POST", "/logout"),
    ("POST", "/account/sign-out-everywhere"),
    ("POST", "/account/security/sign-out-others"),
}


def _fill(path: str, world: World) -> str:
    return (
        path.replace("{trade}", world.trade_id)
        .replace("{quote}", world.quote_id)
        .replace("{refused}", world.refused_id)
        .replace("{webhook}", world.webhook_id)
        .replace("{token}", "vxl_not-a-link")
    )


def test_the_table_covers_every_route() -> None:
    api_routes = {(m, p) for m, p, _, _ in API}
    web_routes = {
        (
            m,
            re.sub(
                r"/[0-9a-f-]{36}",
                "/{id}",
                p.replace("{trade}", "{id}")
                .replace("{quote}", "{id}")
                .replace("{refused}", "{id}")
                .replace("{webhook}", "{id}")
                .replace("{token}", "{id}"),
            )
            .replace("/cultureland", "/{slug}")
            .replace("/no-such-brand", "/{slug}"),
        )
        for m, p, _, _ in WEB
    }
    served = set()
    for module in (
        seller,
        selling,
        review,
        operator,
        web_receipts,
        reconciliation,
        issuers,
        shell,
        web_recovery,
        account_security,
        developers,
        developer_endpoints,
        web_two_factor,
        identity_document,
        fraud,
    ):
        for route in module.router.routes:
            path = re.sub(
                r"\{[a-z_]+\}", lambda m: "{slug}" if m.group(0) == "{slug}" else "{id}", route.path
            )  # type: ignore[attr-defined]
            served |= {(method, path) for method in route.methods}  # type: ignore[attr-defined]
    assert web_routes == served

    api_served = {
        (method, re.sub(r"\{[a-z_]+\}", "{id}", route.path))  # type: ignore[attr-defined]
        for module in (
            api_accounts,
            api_catalog,
            api_staff,
            api_trades,
            api_receipts,
            api_api_keys,
            api_webhooks,
            api_identity_documents,
            api_fraud,
        )
        for route in module.router.routes
        for method in route.methods  # type: ignore[attr-defined]
    }
    assert {
        (m, re.sub(r"\{trade\}|\{refused\}|\{webhook\}|\{token\}|" + GHOST, "{id}", p)) for m, p in api_routes
    } == api_served


def test_every_route_answers_each_visitor_as_the_table_says(world: World) -> None:
    actual: dict[tuple[str, str, str], int] = {}
    cells = [("api", *r) for r in API] + [("web", *r) for r in WEB]
    # Sign-out rows end every session of the visitor (sign out everywhere): they run last.
    for kind, method, path, payload, _ in sorted(cells, key=lambda c: (c[1], c[2]) in ENDS_SESSION):
        for persona in PERSONAS:
            fresh = (method, path) in ENDS_SESSION
            url = _fill(path, world)
            if kind == "api":
                client = _api_client(world.exchange, *world.logins[persona]) if fresh else world.api[persona]
                answer = (
                    client.request(method, url, json=payload)
                    if payload is not None
                    else client.request(method, url)
                )
                actual[(kind, f"{method} {path}", persona)] = answer.status_code
                continue
            client, csrf = world.web[persona], world.csrf[persona]
            if fresh:
                client, csrf = _web_client(world.exchange, *world.logins[persona])
            if method == "GET":
                answer = client.get(url)
            else:
                answer = client.post(url, data={**(payload or {}), "csrf_token": csrf})
            status = answer.status_code
            if status == 303 and answer.headers["location"].startswith("/login") and persona == "anonymous":
                status = LOGIN
            actual[(kind, f"{method} {path}", persona)] = status
    expected = {
        (kind, f"{method} {path}", persona): statuses[i]
        for kind, table in (("api", API), ("web", WEB))
        for method, path, _, statuses in table
        for i, persona in enumerate(PERSONAS)
    }
    wrong = {cell: (expected[cell], got) for cell, got in actual.items() if got != expected[cell]}
    routes = len(API) + len(WEB)
    print(f"\npermission matrix: {routes} routes × {len(PERSONAS)} visitors = {routes * len(PERSONAS)} cells")
    for cell, pair in sorted(wrong.items()):
        print("WRONG", cell, pair)
    assert wrong == {}
