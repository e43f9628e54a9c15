"""Partner API keys (issue 23, item 1): scoped, hashed, allow-listed, rolled, revoked everywhere at once.

Keys are made and managed with a signed-in session, then used as `Authorization: Bearer vxk_…`
against the real app over HTTP. The exchange mails through a local SMTP server (`mailed`), so
the owner's e-mails can be read; the clock is the exchange's injected one.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import database_url
from tests.support.exchange import Api, Exchange, make_seller, new_account, running_exchange, settings_for
from tests.support.live_server import live_server
from tests.support.mailbox import Mailed
from voucher_exchange.accounts import repository as accounts_repo
from voucher_exchange.api.app import create_app
from voucher_exchange.bootstrap import build_context
from voucher_exchange.db.schema import api_keys, audit_log, quotes, trades
from voucher_exchange.privacy import service as privacy
from voucher_exchange.web.session import SESSION_COOKIE

SELLING = ["quotes:write", "trades:write", "trades:read"]
PASSWORD = "correct-horse-battery"
QUOTE = {"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}}


@pytest.fixture
def exchange(mailed: Mailed) -> Iterator[Exchange]:
    """The mailing exchange of this module; its clock back to real time after each test."""
    yield mailed.exchange
    mailed.exchange.reset_clock()


def _key_client(exchange: Exchange, key: str, base_url: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=(base_url or exchange.base_url) + "/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def _create(api: Api, scopes: list[str], **extra: Any) -> dict[str, Any]:
    response = api.post("/api-keys", {"name": f"shop {uuid.uuid4().hex[:6]}", "scopes": scopes, **extra})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def _listed(api: Api, key_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(k for k in api.get("/api-keys").json()["api_keys"] if k["id"] == key_id)
    return found


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.mark.both_backends
def test_a_key_with_quote_and_trade_scopes_sells_a_voucher_to_paid(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    made = _create(seller.api, SELLING)
    assert made["key"].startswith("vxk_") and made["prefix"] == made["key"][:12]
    assert set(made) == {"id", "name", "prefix", "key", "scopes", "allowed_ips", "created_at", "expires_at"}
    assert (made["scopes"], made["allowed_ips"], made["expires_at"]) == (SELLING, [], None)
    partner = _key_client(exchange, made["key"])

    voucher = exchange.mint("cultureland", 50000)
    quote = partner.post(
        "/quotes", json={"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}}
    )
    assert quote.status_code == 201, quote.text
    body = seller.trade_body(quote.json()["id"], voucher["code"])
    submitted = partner.post("/trades", json=body, headers={"Idempotency-Key": "k-" + uuid.uuid4().hex})
    assert submitted.status_code == 202, submitted.text

    trade_id = submitted.json()["id"]
    key_api = Api(exchange, made["key"])
    trade = key_api.wait_for(trade_id)
    assert trade["status"] == "paid"
    assert trade["payout"] == {"amount": 45500, "currency": "KRW"}
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]
    # The key acts for its account: the seller's own session sees the same trade.
    assert seller.api.get(f"/trades/{trade_id}").json()["status"] == "paid"
    assert [t["id"] for t in partner.get("/trades").json()["trades"]] == [trade_id]
    assert _listed(seller.api, made["id"])["last_used_at"] is not None


def test_a_key_without_trades_write_is_refused_and_nothing_moves(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    partner = _key_client(exchange, _create(seller.api, ["quotes:write", "trades:read"])["key"])
    voucher = exchange.mint("cultureland", 50000)
    quote = partner.post(
        "/quotes", json={"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}}
    )
    assert quote.status_code == 201

    refused = partner.post("/trades", json=seller.trade_body(quote.json()["id"], voucher["code"]))

    assert _error(refused) == (403, "insufficient_scope")
    assert partner.get("/trades").json()["trades"] == []
    with exchange.ctx.uow(readonly=True) as uow:
        quote_id = quote.json()["id"]
        used_by = uow.conn.execute(select(quotes.c.trade_id).where(quotes.c.id == quote_id)).scalar()
        traded = uow.conn.execute(select(trades.c.id).where(trades.c.quote_id == quote_id)).all()
    assert (used_by, traded) == (None, [])
    assert exchange.lookup(voucher["code"])["state"] == "active"
    # The quote is still good: the seller's own session sells with it.
    sold = seller.api.post("/trades", seller.trade_body(quote.json()["id"], voucher["code"]))
    assert sold.status_code == 202


def test_a_key_from_an_address_outside_its_allow_list_is_refused(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    elsewhere = _create(api, ["trades:read"], allowed_ips=["203.0.113.0/24", "2001:db8::/32"])
    assert elsewhere["allowed_ips"] == ["203.0.113.0/24", "2001:db8::/32"]
    here = _create(api, ["trades:read"], allowed_ips=["127.0.0.1"])
    assert here["allowed_ips"] == ["127.0.0.1/32"]

    assert _error(_key_client(exchange, elsewhere["key"]).get("/trades")) == (403, "ip_not_allowed")
    assert _key_client(exchange, here["key"]).get("/trades").status_code == 200

    bad = api.post("/api-keys", {"name": "x", "scopes": ["trades:read"], "allowed_ips": ["10.0.0.0/33"]})
    assert _error(bad) == (422, "invalid_cidr")
    assert bad.json()["error"]["field"] == "allowed_ips"
    unknown = api.post("/api-keys", {"name": "x", "scopes": ["trades:delete"]})
    assert _error(unknown) == (422, "invalid_request")


@contextmanager
def _second_api_process(exchange: Exchange) -> Iterator[str]:
    """Another API instance (its own engine, pool and state) on the same database."""
    # Every process of a deployment holds the same master key (var/keys), so the same key hashes.
    settings = settings_for(exchange.var_dir, exchange.database_url)
    ctx = build_context(settings, exchange.sandbox_url, exchange.clock)
    try:
        with live_server(create_app(ctx, None, 0)) as url:
            yield url
    finally:
        ctx.close()


@pytest.mark.both_backends
def test_a_revoked_key_is_refused_by_every_api_process_at_once(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    made = _create(api, ["trades:read"])
    with _second_api_process(exchange) as other_url:
        one, two = _key_client(exchange, made["key"]), _key_client(exchange, made["key"], other_url)
        assert (one.get("/trades").status_code, two.get("/trades").status_code) == (200, 200)

        assert api.http.delete(f"/api-keys/{made['id']}").status_code == 204

        # No waiting: the very next request on either process is refused.
        assert _error(two.get("/trades")) == (401, "unauthorized")
        assert _error(one.get("/trades")) == (401, "unauthorized")
    assert _listed(api, made["id"])["revoked_at"] is not None
    assert api.http.delete(f"/api-keys/{made['id']}").status_code == 204  # again: nothing changes
    assert _error(api.http.delete(f"/api-keys/{uuid.uuid4()}")) == (404, "api_key_unknown")


def test_a_rolled_key_works_for_the_overlap_then_stops(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    old = _create(api, ["trades:read", "receipts:read"], allowed_ips=["127.0.0.0/8"])
    rolled = api.post(f"/api-keys/{old['id']}/roll", {"overlap_hours": 1})
    assert rolled.status_code == 201, rolled.text
    new = rolled.json()
    assert new["key"] != old["key"] and new["id"] != old["id"]
    same = ("name", "scopes", "allowed_ips", "expires_at")
    assert [new[f] for f in same] == [old[f] for f in same]

    old_client, new_client = _key_client(exchange, old["key"]), _key_client(exchange, new["key"])
    assert (old_client.get("/trades").status_code, new_client.get("/trades").status_code) == (200, 200)
    assert _error(api.post(f"/api-keys/{old['id']}/roll")) == (409, "api_key_inactive")

    exchange.clock.offset += timedelta(minutes=61)
    assert _error(old_client.get("/trades")) == (401, "unauthorized")
    assert new_client.get("/trades").status_code == 200
    default = api.post(f"/api-keys/{new['id']}/roll")  # no body: the default overlap, 24 hours
    assert default.status_code == 201
    ends = datetime.fromisoformat(_listed(api, new["id"])["expires_at"])
    assert abs(ends - (exchange.clock.now() + timedelta(hours=24))) < timedelta(minutes=1)


def test_an_expired_key_is_refused(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    soon = (exchange.clock.now() + timedelta(hours=1)).isoformat()
    made = _create(api, ["trades:read"], expires_at=soon)
    client = _key_client(exchange, made["key"])
    assert client.get("/trades").status_code == 200
    exchange.clock.offset += timedelta(hours=2)
    assert _error(client.get("/trades")) == (401, "unauthorized")
    past_answer = api.post(
        "/api-keys", {"name": "x", "scopes": ["trades:read"], "expires_at": "2020-01-01T00:00:00Z"}
    )
    assert _error(past_answer) == (422, "invalid_expiry")
    assert _error(_key_client(exchange, "vxk_" + "A" * 43).get("/trades")) == (401, "unauthorized")


def test_keys_never_reach_web_pages_staff_routes_or_key_management(exchange: Exchange) -> None:
    operator = exchange.operator()
    every_scope = [*SELLING, "payout_destinations:read", "receipts:read", "webhooks:manage"]
    key = _create(operator, every_scope)["key"]
    client = _key_client(exchange, key)
    for method, path in [
        ("GET", "/ledger/balances"),
        ("GET", "/review/trades"),
        ("GET", "/review/appeals"),
        ("GET", "/api-keys"),
        ("POST", "/api-keys"),
        ("GET", "/me"),
        ("DELETE", "/sessions"),
    ]:
        answer = client.request(method, path, json={} if method == "POST" else None)
        assert _error(answer) == (403, "insufficient_scope"), (method, path)
    # The account still works, and its sessions do too.
    assert client.get("/me/payout-destinations").status_code == 200
    assert operator.get("/ledger/balances").status_code == 200

    web = httpx.Client(base_url=exchange.base_url, timeout=30, follow_redirects=False)
    by_header = web.get("/account", headers={"Authorization": f"Bearer {key}"})
    web.cookies.set(SESSION_COOKIE, key)
    by_cookie = web.get("/account")
    for page in (by_header, by_cookie):
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    staff_page = web.get("/staff/review")
    assert staff_page.status_code == 303 and staff_page.headers["location"].startswith("/login")


def test_the_key_is_in_no_list_log_audit_entry_or_mail(
    mailed: Mailed, exchange: Exchange, capfd: pytest.CaptureFixture[str]
) -> None:
    api, email = new_account(exchange)
    made = _create(api, ["trades:read"])
    rolled = api.post(f"/api-keys/{made['id']}/roll", {"overlap_hours": 0}).json()
    assert _key_client(exchange, rolled["key"]).get("/trades").status_code == 200
    assert _key_client(exchange, made["key"]).get("/me").status_code == 401
    assert api.http.delete(f"/api-keys/{rolled['id']}").status_code == 204
    secrets_ = (made["key"], rolled["key"], made["key"][12:], rolled["key"][12:])

    listed = api.get("/api-keys")
    assert [k["prefix"] for k in listed.json()["api_keys"]] == [rolled["prefix"], made["prefix"]]
    assert all("key" not in k for k in listed.json()["api_keys"])
    user_id = api.get("/me").json()["id"]
    with exchange.ctx.uow(readonly=True) as uow:
        entries = uow.conn.execute(
            select(audit_log.c.action, audit_log.c.details)
            .where(audit_log.c.subject == user_id, audit_log.c.action.like("api_key.%"))
            .order_by(audit_log.c.id)
        ).all()
        stored = uow.conn.execute(select(api_keys).where(api_keys.c.user_id == user_id)).all()
    assert [(a, d["prefix"]) for a, d in entries] == [
        ("api_key.created", made["prefix"]),
        ("api_key.rolled", made["prefix"]),
        ("api_key.revoked", rolled["prefix"]),
    ]
    mailed.mails(email, 4)  # the sign-up's verification link, then one per key event
    mails = [m for m in mailed.inbox.to(email) if "API key" in str(m["Subject"])]
    bodies = [m.get_content() for m in mails]
    assert sorted(str(m["Subject"]) for m in mails) == [
        "A new API key was created for your 바우처익스체인지 account",
        "An API key of your 바우처익스체인지 account was revoked",
        "An API key of your 바우처익스체인지 account was rolled",
    ]
    assert sum(made["prefix"] in b for b in bodies) == 2 and sum(rolled["prefix"] in b for b in bodies) == 1
    logs = "".join(capfd.readouterr())
    for secret in secrets_:
        for where in (listed.text, repr(entries), repr(stored), *bodies, logs):
            assert secret not in where


def test_last_used_at_moves_but_not_on_every_request(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    made = _create(api, ["trades:read"])
    client = _key_client(exchange, made["key"])
    assert _listed(api, made["id"])["last_used_at"] is None

    assert client.get("/trades").status_code == 200
    first = _listed(api, made["id"])["last_used_at"]
    assert first is not None
    for _ in range(3):
        assert client.get("/trades").status_code == 200
    assert _listed(api, made["id"])["last_used_at"] == first

    exchange.clock.offset += timedelta(minutes=6)
    assert client.get("/trades").status_code == 200
    later = _listed(api, made["id"])["last_used_at"]
    assert datetime.fromisoformat(later) - datetime.fromisoformat(first) >= timedelta(minutes=6)


def test_erasing_the_account_deletes_its_keys(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    made = _create(api, ["trades:read"])
    client = _key_client(exchange, made["key"])
    assert client.get("/trades").status_code == 200
    with exchange.ctx.uow(readonly=True) as uow:
        user = accounts_repo.by_id(uow.conn, api.get("/me").json()["id"])
    assert user is not None
    erased = privacy.erase_account(exchange.ctx, user, PASSWORD)
    assert erased["api_keys"] == 1
    assert _error(client.get("/trades")) == (401, "unauthorized")


@pytest.fixture(scope="module")
def limited(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    """An exchange with the real limits and 3 requests a minute per key."""
    var_dir = tmp_path_factory.mktemp(f"var-key-limits-{backend}")
    url = database_url(request, backend, var_dir, "vx_key_limits")
    with running_exchange(var_dir, url, rate_limit_multiplier=1, api_key_requests_per_minute=3) as running:
        yield running


def test_each_key_has_its_own_rate_limit(limited: Exchange) -> None:
    now = datetime.now(UTC)
    # One second into a fresh minute, so the test does not straddle two windows.
    limited.clock.offset = datetime.fromtimestamp(math.ceil(now.timestamp() / 60) * 60 + 1, UTC) - now
    try:
        api, _ = new_account(limited)
        first, second = (_key_client(limited, _create(api, ["trades:read"])["key"]) for _ in range(2))
        assert [first.get("/trades").status_code for _ in range(3)] == [200, 200, 200]
        over = first.get("/trades")
        assert _error(over) == (429, "rate_limited")
        assert int(over.headers["Retry-After"]) <= 60
        # Another key of the same account, and the account's own session, are not held back.
        assert second.get("/trades").status_code == 200
        assert api.get("/trades").status_code == 200
    finally:
        limited.clock.offset = timedelta(0)


def test_an_account_holds_at_most_25_working_keys(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    made = [_create(api, ["trades:read"]) for _ in range(25)]
    over = api.post("/api-keys", {"name": "one too many", "scopes": ["trades:read"]})
    assert _error(over) == (409, "too_many_api_keys")
    assert len(api.get("/api-keys").json()["api_keys"]) == 25
    assert api.http.delete(f"/api-keys/{made[0]['id']}").status_code == 204
    assert api.post("/api-keys", {"name": "in its place", "scopes": ["trades:read"]}).status_code == 201


def test_a_key_retrying_with_its_idempotency_key_gets_the_first_answer_and_a_changed_body_is_refused(
    exchange: Exchange,
) -> None:
    seller = make_seller(exchange)
    partner = _key_client(exchange, _create(seller.api, ["quotes:write"])["key"])
    headers = {"Idempotency-Key": f"partner-{uuid.uuid4().hex}"}

    first = partner.post("/quotes", json=QUOTE, headers=headers)
    assert first.status_code == 201
    again = partner.post("/quotes", json=QUOTE, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    other = {"brand": "cultureland", "face_value": {"amount": 10000, "currency": "KRW"}}
    assert _error(partner.post("/quotes", json=other, headers=headers)) == (409, "idempotency_key_reused")
    # The same key from the account's signed-in session is the same operation: the first answer.
    assert seller.api.post("/quotes", QUOTE, headers=headers).json() == first.json()
    user_id = seller.api.get("/me").json()["id"]
    with exchange.ctx.uow(readonly=True) as uow:
        made = uow.conn.execute(select(quotes.c.id).where(quotes.c.user_id == user_id)).all()
    assert [r.id for r in made] == [first.json()["id"]]
