"""Workers as separate processes: NOTIFY wakes them at once; SIGTERM lets them finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import database_url
from tests.support.exchange import Exchange, make_seller, running_exchange

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_exchange(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    var_dir = tmp_path_factory.mktemp("pg-workers")
    with running_exchange(var_dir, database_url(request, "postgresql", var_dir, "vx_workers"), 0) as running:
        yield running


def _worker(exchange: Exchange, log: Path, poll_seconds: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VX_DATABASE_URL": exchange.database_url,
        "VX_SANDBOX_URL": exchange.sandbox_url,
        "VX_VAR_DIR": str(exchange.var_dir),
        "VX_WORKER_POLL_SECONDS": poll_seconds,
        # As every test's exchange: no payout waits for the banks' nightly window by the time of
        # day (23:30-00:30 KST, when this test's trade would otherwise not be paid in time).
        "VX_BANK_WINDOW": "off",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "voucher_exchange.cli.main", "worker", "--concurrency", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def test_notify_wakes_an_idle_worker_long_before_its_poll(pg_exchange: Exchange, tmp_path: Path) -> None:
    seller = make_seller(pg_exchange)
    worker = _worker(pg_exchange, tmp_path / "worker.log", poll_seconds="60")
    try:
        # Let the worker reach its idle wait first: a trade paid proves it was listening.
        warmup = seller.api.wait_for(seller.sell(pg_exchange.mint()), timeout=20)
        assert warmup["status"] == "paid"
        # It is now idle for up to 60 s; only a notification can make it pay within 10 s.
        trade = seller.api.wait_for(seller.sell(pg_exchange.mint()), timeout=10)
        assert trade["status"] == "paid"
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    assert "worker running (1 threads)" in (tmp_path / "worker.log").read_text()
