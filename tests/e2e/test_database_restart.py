"""Zero 5xx across a database restart (issue 22, item 5): `pg_ctl restart -m immediate` under load.

Two API processes and two worker processes on a PostgreSQL server of this module's own,
durable (fsync and synchronous commit on: an immediate restart must not lose a commit the
API acknowledged). Clients send `POST /quotes` and `POST /trades` without pause, each with an
Idempotency-Key; after the first dozen trades the server is restarted the way a crash would
end it. Every answer must be 2xx, or 503 `database_unavailable` with Retry-After while the
database cannot be reached — the client then sends the same request with the same key again.
Every accepted trade must then be paid exactly once, nothing may be lost or added, and the
workers must live through it. Then the server stays down for a while: the API answers 503
with Retry-After, pages a 503 page drawn without the database, and both serve again at once
when it is back.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from pytest_postgresql.executors.proc import PostgreSQLExecutor
from sqlalchemy import Engine, func, select

from tests.support import load
from tests.support.cluster import Cluster, cluster
from tests.support.polling import poll_until
from tests.support.postgres import create_database, restart_server, server_down, start_server, stop_server
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import payouts, trades

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SELLERS = 16  # load.TRADES_PER_SELLER trades each keeps every trade clear of the velocity rules
CLIENTS = 4
TRADES_AFTER_RESTART = 24  # accepted after the server is back, so fresh and stale connections both serve


@pytest.fixture(scope="module")
def server() -> Iterator[PostgreSQLExecutor]:
    """This module's own server (the restarts must not disturb other tests), durable."""
    running = start_server(durable=True)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def deployment(
    server: PostgreSQLExecutor, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, Engine]]:
    url = create_database(server, "vx_restart")
    with cluster(
        tmp_path_factory.mktemp("restart"), url, api_count=2, worker_count=2, test_password_cost=True
    ) as running:
        engine = make_engine(url)
        yield running, engine
        engine.dispose()


@dataclass
class Seen:
    """What the clients sent and were answered."""

    statuses: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # a final answer that was not a success
    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key → trade id
    after_restart: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _send(http: httpx.Client, path: str, body: dict[str, Any], key: str, seen: Seen) -> httpx.Response:
    """POST until answered with something other than 503 (a minute at most); a 503 must say when
    to come back. The same Idempotency-Key every time: a retry is never a second trade."""

    def attempt() -> list[httpx.Response] | None:
        response = http.post(path, json=body, headers={"Idempotency-Key": key})
        with seen.lock:
            seen.statuses[f"{path} {response.status_code}"] += 1
            if response.status_code >= 500 and not (
                response.status_code == 503
                and response.headers.get("Retry-After", "").isdigit()
                and "database_unavailable" in response.text
            ):
                seen.server_errors.append(f"{path} {response.status_code} {response.text[:200]}")
        return None if response.status_code == 503 else [response]

    return poll_until(attempt, 60, interval=0.25, what=f"{path} answered other than 503")[0]


def _client(
    running: Cluster, sellers: list[load.Seller], slots: Iterator[int], restarted: threading.Event, seen: Seen
) -> None:
    for slot in slots:
        seller = sellers[slot // load.TRADES_PER_SELLER]
        code = load._mint(running.sandbox_url)
        auth = {"Authorization": f"Bearer {seller.token}"}
        with httpx.Client(base_url=running.api_urls[slot % 2] + "/api/v1", headers=auth, timeout=60) as http:
            face = {"amount": load.FACE, "currency": "KRW"}
            quote = _send(
                http, "/quotes", {"brand": "cultureland", "face_value": face}, uuid.uuid4().hex, seen
            )
            if quote.status_code != 201:
                with seen.lock:
                    seen.refused.append(f"/quotes {quote.status_code} {quote.text[:200]}")
                continue
            body = {
                "quote_id": quote.json()["id"],
                "voucher": {"code": code},
                "acquisition": {"method": "gift", "acquired_on": "2026-11-01"},
                "payout_destination_id": seller.destination_id,
            }
            key = uuid.uuid4().hex
            trade = _send(http, "/trades", body, key, seen)
        if trade.status_code != 202:
            with seen.lock:
                seen.refused.append(f"/trades {trade.status_code} {trade.text[:200]}")
            continue
        with seen.lock:
            seen.accepted[key] = trade.json()["id"]
            seen.after_restart += restarted.is_set()
            if seen.after_restart >= TRADES_AFTER_RESTART:
                return


def _server_started_at(server: PostgreSQLExecutor) -> str:
    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres") as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
    assert row is not None
    return str(row[0])


def test_no_5xx_and_no_trade_lost_or_doubled_when_postgresql_restarts_under_load(
    server: PostgreSQLExecutor, deployment: tuple[Cluster, Engine]
) -> None:
    running, engine = deployment
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        sellers = list(
            pool.map(
                lambda n: load.new_seller(running.api_urls[n % 2], running.sandbox_url, n), range(SELLERS)
            )
        )
    started_before = _server_started_at(server)
    seen = Seen()
    restarted = threading.Event()
    counter = itertools.count()
    lock = threading.Lock()

    def slots() -> Iterator[int]:
        while True:
            with lock:
                slot = next(counter)
            if slot >= SELLERS * load.TRADES_PER_SELLER:
                return
            yield slot

    clients = [
        threading.Thread(target=_client, args=(running, sellers, slots(), restarted, seen))
        for _ in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    poll_until(lambda: len(seen.accepted) >= 12, timeout=60, what="the load to get going")
    down = time.monotonic()
    restart_server(server)  # the clients keep sending meanwhile
    restarted.set()
    down = time.monotonic() - down
    for client in clients:
        client.join(timeout=300)

    assert _server_started_at(server) != started_before  # the server really did restart
    assert seen.server_errors == []
    assert seen.refused == []
    assert seen.after_restart >= TRADES_AFTER_RESTART, seen.statuses  # the load went on after the restart
    poll_until(lambda: load.open_trades(engine) == 0, timeout=300, interval=0.5, what="every trade to finish")
    accepted = set(seen.accepted.values())
    assert len(accepted) == len(seen.accepted)  # one trade per key
    with engine.connect() as conn:
        by_status = dict(conn.execute(select(trades.c.status, func.count()).group_by(trades.c.status)).all())
        stored = set(conn.execute(select(trades.c.id)).scalars())
        executed = conn.execute(
            select(func.count(), func.sum(payouts.c.amount)).where(payouts.c.status == "executed")
        ).one()
    assert stored == accepted  # nothing lost, nothing the clients were not told about
    assert by_status == {"paid": len(accepted)}
    rail = httpx.get(running.sandbox_url + "/rail/transfers", timeout=60).json()["transfers"]
    assert (
        (len(rail), sum(t["amount"] for t in rail))
        == tuple(executed)
        == (len(accepted), 9000 * len(accepted))
    )
    assert len({t["idempotency_key"] for t in rail}) == len(rail)
    verify = running.run("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    answers = dict(sorted(seen.statuses.items()))
    paid = f"{len(accepted)} trades, paid once each"
    print(f"\nPostgreSQL restart ({down:.1f} s) under load: {answers}; {paid}")
    assert all(worker.poll() is None for worker in running.workers)  # the workers lived through it


def test_while_the_database_stays_away_the_api_answers_503_with_retry_after_and_pages_say_so_kindly(
    server: PostgreSQLExecutor, deployment: tuple[Cluster, Engine]
) -> None:
    running, _ = deployment
    api = running.api_urls[0]
    seller = load.new_seller(api, running.sandbox_url, 10_000)
    auth = {"Authorization": f"Bearer {seller.token}"}
    face = {"amount": load.FACE, "currency": "KRW"}

    def ask(kind: str) -> httpx.Response:
        if kind == "quote":
            body = {"brand": "cultureland", "face_value": face}
            headers = auth | {"Idempotency-Key": uuid.uuid4().hex}
            return httpx.post(api + "/api/v1/quotes", json=body, headers=headers, timeout=60)
        if kind == "me":
            return httpx.get(api + "/api/v1/me", headers=auth, timeout=60)
        return httpx.get(api + "/", headers={"Accept-Language": "ko"}, timeout=60)

    with server_down(server), ThreadPoolExecutor(max_workers=3) as pool:
        # Each waits the engine's few seconds for the server, then gives up.
        quote, me, home = pool.map(ask, ["quote", "me", "page"])
    for answer in (quote, me):
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")
        assert answer.json()["error"]["code"] == "database_unavailable"
    assert (home.status_code, home.headers["Retry-After"]) == (503, "1")
    assert home.headers["content-type"].startswith("text/html")
    assert "잠시 서버 연결이 원활하지 않습니다" in home.text and "Traceback" not in home.text
    # Back up: the same processes answer at once.
    assert ask("me").status_code == 200
    assert ask("quote").status_code == 201
