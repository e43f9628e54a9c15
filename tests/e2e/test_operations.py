"""Health probes, Prometheus metrics, and one request id from the API into the worker's job."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from tests.support.exchange import Exchange, Seller
from voucher_exchange.db.schema import jobs


def test_probes(exchange: Exchange) -> None:
    assert httpx.get(exchange.base_url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(exchange.base_url + "/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def test_metrics_report_requests_trades_queue_and_issuer_latency(exchange: Exchange, seller: Seller) -> None:
    seller.api.wait_for(seller.sell(exchange.mint()))
    seller.api.get("/brands")
    text = httpx.get(exchange.base_url + "/metrics").text
    assert re.search(
        r'vx_http_request_duration_seconds_count\{method="GET",route="/api/v1/brands",status="200"\}', text
    )
    assert re.search(
        r'vx_http_request_duration_seconds_count\{method="POST",route="/api/v1/trades",status="202"\}', text
    )
    paid = re.search(r'vx_trades\{status="paid"\} (\d+)', text)
    assert paid and int(paid.group(1)) >= 1
    assert "vx_job_queue_oldest_age_seconds" in text
    assert "vx_payouts_failed" in text
    assert re.search(r'vx_issuer_request_duration_seconds_count\{operation="redeem",outcome="ok"\}', text)
    assert re.search(r'vx_rail_request_duration_seconds_count\{operation="transfer",outcome="ok"\}', text)


def test_the_request_id_follows_the_trade_into_its_job(exchange: Exchange, seller: Seller) -> None:
    quote = seller.quote()
    response = seller.api.post(
        "/trades",
        seller.trade_body(quote["id"], exchange.mint()["code"]),
        headers={"X-Request-ID": "req-abc-123"},
    )
    assert response.headers["X-Request-ID"] == "req-abc-123"
    trade_id = response.json()["id"]
    seller.api.wait_for(trade_id)
    with exchange.ctx.uow(readonly=True) as uow:
        stored = uow.conn.execute(select(jobs.c.request_id).where(jobs.c.ref == trade_id)).scalar_one()
    assert stored == "req-abc-123"


def test_a_request_id_is_made_when_none_or_a_bad_one_is_sent(exchange: Exchange) -> None:
    plain = httpx.get(exchange.base_url + "/api/v1/brands")
    hostile = httpx.get(
        exchange.base_url + "/api/v1/brands", headers={"X-Request-ID": "bad id; <script>" + "y" * 300}
    )
    assert re.fullmatch(r"[0-9a-f]{32}", plain.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["X-Request-ID"])
