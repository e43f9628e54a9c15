"""Synthetic load against a cluster: sellers, vouchers, trades, duplicates, shared idempotency keys."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import quantiles
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from tests.support.polling import poll_until
from voucher_exchange.db.schema import payouts, trades

FACE = 10_000  # cultureland ₩10,000 → payout ₩9,000
# Honest sellers: a few vouchers each, bought days ago, so the live rule set lets them through.
TRADES_PER_SELLER = 4  # plus at most one duplicate attempt: never 5 others within an hour
ISSUED_DAYS_AGO = 10


@dataclass
class Seller:
    """A verified seller on the cluster."""

    token: str
    destination_id: str
    account_number: str


@dataclass
class Load:
    """What was submitted."""

    trade_ids: set[str] = field(default_factory=set)
    duplicate_trade_ids: set[str] = field(default_factory=set)
    keyed_trade_ids: set[str] = field(default_factory=set)
    sellers: list[Seller] = field(default_factory=list)


def new_seller(api: str, sandbox: str, n: int) -> Seller:
    """Sign up, verify and add a bank account: a seller ready to sell (n makes the name unique)."""
    with httpx.Client(base_url=api + "/api/v1", timeout=30) as http:
        email = f"load-{uuid.uuid4().hex[:10]}@example.com"

        def sign_up() -> httpx.Response | None:
            # Sign-ups beyond the password-hashing capacity are turned away (429 server_busy, with
            # Retry-After: 1): ask again until accepted, for at most a minute.
            answer = http.post("/accounts", json={"email": email, "password": "load-test-pass"})
            return None if answer.status_code == 429 else answer

        signed_up = poll_until(sign_up, 60, interval=1.0, what="a sign-up the server has room for")
        token = signed_up.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        name = f"Load Seller {n}"
        http.post(
            "/me/identity",
            headers=auth,
            json={"legal_name": name, "birth_date": "1990-01-01", "phone": "01012345678"},
        )
        account = f"{9_000_000_000 + n:012d}"
        httpx.post(
            sandbox + "/rail/accounts",
            json={"bank_code": "004", "account_number": account, "holder_name": name},
            timeout=30,
        )
        dest = http.post(
            "/me/payout-destinations",
            headers=auth,
            json={"kind": "bank_account", "bank_code": "004", "account_number": account, "holder_name": name},
        ).json()
        assert dest["status"] == "verified", dest
        return Seller(token, dest["id"], account)


def _mint(sandbox: str) -> str:
    issued = (datetime.now(UTC) - timedelta(days=ISSUED_DAYS_AGO)).isoformat()
    body = {"brand": "cultureland", "face_value": FACE, "issued_at": issued}
    minted = httpx.post(sandbox + "/issuer/vouchers", json=body, timeout=30)
    code: str = minted.json()["code"]
    return code


def _sell(api: str, seller: Seller, code: str, key: str | None = None) -> str:
    auth = {"Authorization": f"Bearer {seller.token}"}
    with httpx.Client(base_url=api + "/api/v1", headers=auth, timeout=60) as http:
        quote = http.post(
            "/quotes", json={"brand": "cultureland", "face_value": {"amount": FACE, "currency": "KRW"}}
        )
        body = {
            "quote_id": quote.json()["id"],
            "voucher": {"code": code},
            "acquisition": {"method": "gift", "acquired_on": "2026-11-01"},
            "payout_destination_id": seller.destination_id,
        }
        return _submit(http, body, key)


def _submit(http: httpx.Client, body: dict[str, Any], key: str | None) -> str:
    headers = {"Idempotency-Key": key} if key else {}
    response = http.post("/trades", json=body, headers=headers)
    assert response.status_code == 202, response.text
    trade_id: str = response.json()["id"]
    return trade_id


def push(
    api_urls: list[str],
    sandbox_url: str,
    trades_total: int,
    threads: int = 12,
    on_submitted: Callable[[int], None] | None = None,
) -> Load:
    """Submit `trades_total` honest trades plus duplicates and one shared-key burst."""
    load = Load()
    apis = itertools.cycle(api_urls)
    seller_count = max(2, -(-trades_total // TRADES_PER_SELLER))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        load.sellers = list(
            pool.map(lambda n: new_seller(api_urls[n % len(api_urls)], sandbox_url, n), range(seller_count))
        )
        codes = list(pool.map(lambda _: _mint(sandbox_url), range(trades_total)))
        lock = threading.Lock()

        def one(i: int) -> None:
            trade_id = _sell(api_urls[i % len(api_urls)], load.sellers[i % seller_count], codes[i])
            with lock:
                load.trade_ids.add(trade_id)
                if on_submitted:
                    on_submitted(len(load.trade_ids))

        list(pool.map(one, range(trades_total)))
        # Duplicates: codes already sold, offered again by another seller.
        dupes = list(
            pool.map(lambda i: _sell(next(apis), load.sellers[(i + 1) % seller_count], codes[i]), range(20))
        )
        load.duplicate_trade_ids.update(dupes)
        # Ten concurrent submissions with one idempotency key and one body: one trade.
        seller = new_seller(api_urls[0], sandbox_url, seller_count)
        auth = {"Authorization": f"Bearer {seller.token}"}
        with httpx.Client(base_url=api_urls[0] + "/api/v1", headers=auth, timeout=60) as http:
            quote = http.post(
                "/quotes", json={"brand": "cultureland", "face_value": {"amount": FACE, "currency": "KRW"}}
            ).json()
        body = {
            "quote_id": quote["id"],
            "voucher": {"code": _mint(sandbox_url)},
            "acquisition": {"method": "gift", "acquired_on": "2026-11-01"},
            "payout_destination_id": seller.destination_id,
        }

        def keyed(_: int) -> str:
            with httpx.Client(base_url=next(apis) + "/api/v1", headers=auth, timeout=60) as http:
                return _submit(http, body, "one-key-for-ten")

        load.keyed_trade_ids.update(pool.map(keyed, range(10)))
    return load


def open_trades(engine: Engine) -> int:
    """Trades still moving: not paid, rejected, cancelled, failed or waiting for a person."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(trades)
                .where(
                    trades.c.status.not_in(
                        ["paid", "rejected", "cancelled", "failed", "reversed", "in_review"]
                    )
                )
            ).scalar_one()
        )


def paid_count(engine: Engine) -> int:
    """Trades paid so far."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(trades).where(trades.c.status == "paid")
            ).scalar_one()
        )


@dataclass(frozen=True)
class Figures:
    """Speed, as measured from the database's own timestamps."""

    paid: int
    seconds: float
    trades_per_second: float
    p50_to_payout_sent: float
    p99_to_payout_sent: float


def one_at_a_time(
    api: str, sandbox: str, sellers: list[Seller], count: int, wait: Callable[[str], None]
) -> set[str]:
    """Trades sent one after another, each waited for: latency without a queue (sellers take turns)."""
    ids = set()
    for n in range(count):
        trade_id = _sell(api, sellers[n % len(sellers)], _mint(sandbox))
        wait(trade_id)
        ids.add(trade_id)
    return ids


def figures(engine: Engine, only: set[str] | None = None) -> Figures:
    """Throughput from first submission to last settlement; submission → payout-sent percentiles."""
    query = (
        select(trades.c.created_at, payouts.c.sent_at, payouts.c.settled_at)
        .join(payouts, payouts.c.trade_id == trades.c.id)
        .where(trades.c.status == "paid")
    )
    if only is not None:
        query = query.where(trades.c.id.in_(only))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        first = min(r.created_at for r in rows)
    latencies = sorted((r.sent_at - r.created_at).total_seconds() for r in rows)
    span = (max(r.settled_at for r in rows) - first).total_seconds()
    cuts = quantiles(latencies, n=100, method="inclusive")
    return Figures(len(rows), span, len(rows) / span, cuts[49], cuts[98])
