"""Prometheus metrics: what the API and workers measure, plus gauges read from the database.

Counters and histograms live in each process; the database gauges (trades by status,
queue depth and age, failed payouts) are computed at scrape time, so every API
process reports the same truth.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from voucher_exchange.db.schema import jobs, payouts, trades

HTTP_LATENCY = Histogram(
    "vx_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ISSUER_LATENCY = Histogram(
    "vx_issuer_request_duration_seconds",
    "Latency of calls to issuers, by operation and outcome.",
    ["operation", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RAIL_LATENCY = Histogram(
    "vx_rail_request_duration_seconds",
    "Latency of calls to the payout rail, by operation and outcome.",
    ["operation", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@contextmanager
def timed(histogram: Histogram, operation: str) -> Iterator[None]:
    """Observe how long the block took, labelled ok or error."""
    start = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        histogram.labels(operation, outcome).observe(time.perf_counter() - start)


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily("vx_trades", "Trades by status.", labels=["status"])
        depth = GaugeMetricFamily("vx_job_queue_depth", "Jobs queued or running.", labels=["status"])
        age = GaugeMetricFamily("vx_job_queue_oldest_age_seconds", "Age of the oldest due job.")
        failed = GaugeMetricFamily("vx_payouts_failed", "Payouts the rail refused.")
        now = time.time()
        with self._engine.connect().execution_options(vx_readonly=True) as conn:
            for status, count in conn.execute(
                select(trades.c.status, func.count()).group_by(trades.c.status)
            ):
                by_status.add_metric([status], count)
            for status, count in conn.execute(
                select(jobs.c.status, func.count())
                .where(jobs.c.status.in_(["queued", "running"]))
                .group_by(jobs.c.status)
            ):
                depth.add_metric([status], count)
            oldest = conn.execute(select(func.min(jobs.c.run_at)).where(jobs.c.status == "queued")).scalar()
            rejected = conn.execute(
                select(func.count()).select_from(payouts).where(payouts.c.status == "rejected")
            ).scalar_one()
            conn.rollback()
        age.add_metric([], max(0.0, now - oldest.timestamp()) if oldest else 0.0)
        failed.add_metric([], rejected)
        yield from (by_status, depth, age, failed)
