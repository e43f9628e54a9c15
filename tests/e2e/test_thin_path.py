"""The hot routes' thin path (api/thin.py) answers exactly as the documented routes do.

Two servers share one exchange: the app as `serve` builds it, and the same app with its thin
routes taken out (every request then goes through FastAPI as before). Each request is sent to
both and the answers compared: status, body (byte for byte where nothing in it is new) and
headers, apart from those that differ on every answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import database_url
from tests.support.exchange import Api, Exchange, Seller, ShiftableClock, make_seller, settings_for
from voucher_exchange.api import thin
from voucher_exchange.api.app import create_app
from voucher_exchange.bootstrap import build_context, build_sandbox
from voucher_exchange.db import migrate
from voucher_exchange.demo import seed
from voucher_exchange.threaded_server import live_server

# SQLite reads a conditional GET on the event loop, PostgreSQL in the threadpool: both.
pytestmark = pytest.mark.both_backends

QUOTE = {"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}}
# Differ on every answer (or are the same by construction), whichever path gave it.
VARYING = {"date", "x-request-id", "server"}


@dataclass
class Pair:
    """The app with the thin path (`thin`) and without it (`full`), over one database."""

    exchange: Exchange
    app: FastAPI
    full_url: str
    seller: Seller

    def both(
        self, method: str, path: str, token: str | None = None, headers: Any = (), **kw: Any
    ) -> list[httpx.Response]:
        """The same request sent to each server (thin first); `headers` a dict or (name, value) pairs."""
        given = list(headers.items()) if isinstance(headers, dict) else list(headers)
        headers = [("Authorization", f"Bearer {token or self.token}"), *given]
        answers = []
        for base in (self.exchange.base_url, self.full_url):
            with httpx.Client(base_url=base + "/api/v1", timeout=30) as http:
                answers.append(http.request(method, path, headers=headers, **kw))
        return answers

    @property
    def token(self) -> str:
        return str(self.seller.api.http.headers["Authorization"]).removeprefix("Bearer ")


@pytest.fixture(scope="module")
def pair(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    var_dir = tmp_path_factory.mktemp(f"thin-{backend}")
    url = database_url(request, backend, var_dir, "vx_thin")
    with ExitStack() as stack:
        sandbox_url = stack.enter_context(live_server(build_sandbox(var_dir, hang_seconds=2.0)))
        clock = ShiftableClock()
        ctx = build_context(settings_for(var_dir, url), sandbox_url, clock)
        stack.callback(ctx.close)
        migrate.upgrade(ctx.engine)
        seed(ctx)
        app = create_app(ctx, None, 2)
        full = create_app(ctx, None, 0)
        full.router.routes[:] = [r for r in full.router.routes if not isinstance(r, thin.ThinRoute)]
        base_url = stack.enter_context(live_server(app, graceful_seconds=3.0))
        full_url = stack.enter_context(live_server(full, graceful_seconds=3.0))
        exchange = Exchange(base_url, sandbox_url, ctx, var_dir, url, clock)
        yield Pair(exchange, app, full_url, make_seller(exchange))


def _same(thin_answer: httpx.Response, full_answer: httpx.Response, body: bool = True) -> None:
    def shown(r: httpx.Response) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in r.headers.items() if k not in VARYING)

    assert thin_answer.status_code == full_answer.status_code, (thin_answer.text, full_answer.text)
    if body:
        assert thin_answer.content == full_answer.content
        assert shown(thin_answer) == shown(full_answer)
    else:
        assert sorted(thin_answer.json()) == sorted(full_answer.json())
        assert [k for k, _ in shown(thin_answer)] == [k for k, _ in shown(full_answer)]


def test_the_thin_routes_are_matched_first_and_the_documented_ones_stay_in_the_openapi(pair: Pair) -> None:
    first = [(r.method, r.path) for r in pair.app.router.routes[:3] if isinstance(r, thin.ThinRoute)]
    paths = pair.app.openapi()["paths"]

    assert first == [
        ("POST", "/api/v1/quotes"),
        ("POST", "/api/v1/trades"),
        ("GET", "/api/v1/trades/{trade_id}"),
    ]
    assert {"post"} <= set(paths["/api/v1/quotes"]) and {"post", "get"} <= set(paths["/api/v1/trades"])
    assert "get" in paths["/api/v1/trades/{trade_id}"]
    assert sorted(p["name"] for p in paths["/api/v1/trades/{trade_id}"]["get"]["parameters"]) == [
        "accept-language",
        "authorization",
        "if-none-match",
        "trade_id",
    ]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}', {}),
        (b'{"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}, "x": 1}', {}),
        (b'{"brand": "cultureland", "face_value": {"amount": "50000", "currency": "KRW"}}', {}),
        (b'["cultureland"]', {}),
        (b"", {}),
        (b'{"brand": "no-such-brand", "face_value": {"amount": 50000, "currency": "KRW"}}', {}),
        (
            b'{"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}}',
            {"Content-Type": "text/plain"},
        ),
        (
            b'{"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}}',
            {"Idempotency-Key": "k" * 201},
        ),
        (b"\xff\xfe", {}),
    ],
)
def test_a_refused_quote_is_refused_alike(pair: Pair, content: bytes, headers: dict[str, str]) -> None:
    sent = {"Content-Type": "application/json", **headers}
    _same(*pair.both("POST", "/quotes", content=content, headers=sent))


@pytest.mark.parametrize(
    "token", ["", "vxs_" + "x" * 40, "y" * 401, "vxk_" + "z" * 40], ids=["none", "unknown", "too-long", "key"]
)
def test_a_bad_credential_is_refused_alike(pair: Pair, token: str) -> None:
    for method, path, body in (
        ("POST", "/quotes", QUOTE),
        ("POST", "/trades", {}),
        ("GET", f"/trades/{uuid.uuid4()}", None),
    ):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answers = []
        for base in (pair.exchange.base_url, pair.full_url):
            with httpx.Client(base_url=base + "/api/v1", timeout=30) as http:
                answers.append(http.request(method, path, json=body, headers=headers))
        _same(*answers)


def test_a_quote_is_answered_alike_and_a_key_replays_across_the_paths(pair: Pair) -> None:
    _same(*pair.both("POST", "/quotes", json=QUOTE), body=False)

    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    thin_answer, full_answer = pair.both("POST", "/quotes", json=QUOTE, headers=key)
    other = pair.both("POST", "/quotes", json={**QUOTE, "brand": "happymoney"}, headers=key)

    assert thin_answer.status_code == 201 and full_answer.json() == thin_answer.json()
    _same(*other)
    assert other[0].json()["error"]["code"] == "idempotency_key_reused"


def test_a_trade_is_followed_alike(pair: Pair) -> None:
    voucher = pair.exchange.mint("cultureland", 50000)
    quote = pair.seller.quote()
    submitted = pair.seller.api.post("/trades", pair.seller.trade_body(quote["id"], voucher["code"]))
    trade_id = submitted.json()["id"]
    refused = pair.both(
        "POST", "/trades", json={**pair.seller.trade_body(quote["id"], voucher["code"]), "x": 1}
    )
    status = pair.seller.api.wait_for(trade_id)["status"]

    plain = pair.both("GET", f"/trades/{trade_id}")
    tag = plain[0].headers["ETag"]
    unchanged = pair.both("GET", f"/trades/{trade_id}", headers={"If-None-Match": tag})
    korean = pair.both(
        "GET", f"/trades/{trade_id}", headers={"If-None-Match": tag, "Accept-Language": "ko-KR"}
    )
    elsewhere = pair.both("GET", f"/trades/{trade_id}", token=_someone_else(pair))
    unknown = pair.both("GET", f"/trades/{uuid.uuid4()}", headers={"If-None-Match": tag})
    too_long = pair.both("GET", f"/trades/{trade_id}", headers={"If-None-Match": "x" * 1001})
    twice = pair.both(
        "GET", f"/trades/{trade_id}", headers=[("If-None-Match", tag), ("If-None-Match", '"a"')]
    )

    assert submitted.status_code == 202 and status == "paid"
    assert (plain[0].status_code, unchanged[0].status_code, korean[0].status_code) == (200, 304, 200)
    assert (elsewhere[0].status_code, unknown[0].status_code, too_long[0].status_code) == (404, 404, 422)
    for answers in (refused, plain, unchanged, korean, elsewhere, unknown, too_long, twice):
        _same(*answers)


def _someone_else(pair: Pair) -> str:
    api: Api = make_seller(pair.exchange).api
    return str(api.http.headers["Authorization"]).removeprefix("Bearer ")
