"""Brands are cached per process, yet a quote never outlives a change: suspended, paused or
re-rated, the very next quote sees it, in the process that made the change and in others."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pytest_postgresql.executors.proc import PostgreSQLExecutor
from sqlalchemy import Engine, func, select

from tests.support.cluster import cluster
from tests.support.exchange import Exchange, new_account
from tests.support.postgres import create_database
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.clock import SystemClock
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import quotes

BRAND = "booknlife"  # active, one band at 8900 bps; no other test changes it
BODY = {"brand": BRAND, "face_value": {"amount": 10000, "currency": "KRW"}}
ORIGINAL_BANDS = [{"min_face": 0, "rate_bps": 8900}]


def _quotes_of_brand(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(quotes).where(quotes.c.brand_slug == BRAND)
            ).scalar_one()
        )


@contextmanager
def _status(engine: Engine, status: BrandStatus) -> Iterator[None]:
    """The brand in `status` (committed) for the block, active again after."""
    with engine.begin() as conn:
        catalog.set_status(conn, BRAND, status, SystemClock().now(), "test")
    try:
        yield
    finally:
        with engine.begin() as conn:
            catalog.set_status(conn, BRAND, BrandStatus.ACTIVE, SystemClock().now(), "test")


@pytest.mark.parametrize(
    ("status", "code"), [(BrandStatus.SUSPENDED, "brand_suspended"), (BrandStatus.PAUSED, "brand_paused")]
)
def test_a_brand_taken_off_is_refused_the_next_quote(
    exchange: Exchange, status: BrandStatus, code: str
) -> None:
    api, _ = new_account(exchange)
    engine = exchange.ctx.engine
    warm = [api.post("/quotes", BODY).status_code for _ in range(2)]  # the brand is now cached
    before = _quotes_of_brand(engine)

    with _status(engine, status):
        refused = api.post("/quotes", BODY)
        stored_meanwhile = _quotes_of_brand(engine) - before
    again = api.post("/quotes", BODY)

    assert warm == [201, 201]
    assert refused.status_code == 409, refused.text
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, code)
    assert stored_meanwhile == 0
    assert (again.status_code, again.json()["rate_bps"]) == (201, 8900)


def test_a_rate_change_prices_the_next_quote(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    engine = exchange.ctx.engine
    old = api.post("/quotes", BODY).json()
    try:
        with engine.begin() as conn:
            catalog.set_rates(conn, BRAND, [{"min_face": 0, "rate_bps": 8800}], SystemClock().now(), "test")
        new = api.post("/quotes", BODY).json()
    finally:
        with engine.begin() as conn:
            catalog.set_rates(conn, BRAND, ORIGINAL_BANDS, SystemClock().now(), "test")
    restored = api.post("/quotes", BODY).json()

    assert (old["rate_bps"], old["fee"]["amount"], old["payout"]["amount"]) == (8900, 1100, 8900)
    assert (new["rate_version"], new["rate_bps"], new["fee"]["amount"], new["payout"]["amount"]) == (
        old["rate_version"] + 1,
        8800,
        1200,
        8800,
    )
    assert (restored["rate_version"], restored["rate_bps"]) == (old["rate_version"] + 2, 8900)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_api_processes_refuse_a_suspended_brand_at_once(
    postgres_server: PostgreSQLExecutor, tmp_path: Path
) -> None:
    url = create_database(postgres_server, "vx_quote_cache")
    engine = make_engine(url)
    try:
        with cluster(tmp_path, url, api_count=2, worker_count=0) as running:
            token = httpx.post(
                running.api_urls[0] + "/api/v1/accounts",
                json={"email": "cache@example.com", "password": "correct-horse-battery"},
                timeout=30,
            ).json()["token"]
            clients = [
                httpx.Client(
                    base_url=api + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
                )
                for api in running.api_urls
            ]
            warm = [c.post("/quotes", json=BODY).status_code for c in clients for _ in range(2)]
            before = _quotes_of_brand(engine)
            with _status(engine, BrandStatus.SUSPENDED):
                refused = [c.post("/quotes", json=BODY) for c in clients]
                stored_meanwhile = _quotes_of_brand(engine) - before
            again = [c.post("/quotes", json=BODY).status_code for c in clients]
            for c in clients:
                c.close()
    finally:
        engine.dispose()

    assert warm == [201, 201, 201, 201]
    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [(409, "brand_suspended")] * 2
    assert stored_meanwhile == 0
    assert again == [201, 201]
