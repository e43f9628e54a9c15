"""SIGKILL a worker process mid-flight at the moments that matter; money must stay right.

The API runs in this process without workers; workers are real child processes
(`voucher-exchange worker`) against the same SQLite file and the same sandboxes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import database_url
from tests.support.exchange import Exchange, Seller, make_seller, running_exchange
from tests.support.polling import poll_until
from tests.support.worker_process import start_worker
from voucher_exchange.reconcile import service as reconcile_service

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]
CRASH_POINTS = ["before_issuer_redeem", "after_issuer_redeem", "before_rail_transfer", "after_rail_transfer"]
SECRETS: list[str] = []


@pytest.fixture(scope="module")
def isolated(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    var_dir = tmp_path_factory.mktemp(f"crash-var-{backend}")
    url = database_url(request, backend, var_dir, "vx_crash")
    with running_exchange(var_dir, url, worker_threads=0) as running:
        yield running


def _submit_batch(exchange: Exchange, count: int) -> list[tuple[Seller, str, dict[str, Any]]]:
    batch = []
    for _ in range(count):
        seller = make_seller(exchange)
        voucher = exchange.mint("cultureland", 50000)
        SECRETS.extend([voucher["code"], seller.account_number])
        batch.append((seller, seller.sell(voucher), voucher))
    return batch


def _assert_paid_exactly_once(exchange: Exchange, batch: list[tuple[Seller, str, dict[str, Any]]]) -> None:
    for seller, trade_id, voucher in batch:
        trade = seller.api.wait_for(trade_id, {"paid", "rejected", "failed"}, timeout=60)
        assert trade["status"] == "paid", trade
        transfers = exchange.rail_transfers(seller.account_number)
        assert [(t["amount"], t["status"]) for t in transfers] == [(45500, "executed")]
        found = exchange.lookup(voucher["code"])
        assert (found["state"], found["redeemed_by"]) == ("redeemed", trade_id)
    with exchange.ctx.uow(readonly=True) as uow:
        report = reconcile_service.verify(uow.conn)
    assert report.violations == []


def _cli_verify(exchange: Exchange) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VX_DATABASE_URL": exchange.database_url, "VX_VAR_DIR": str(exchange.var_dir)}
    return subprocess.run(
        [sys.executable, "-m", "voucher_exchange.cli.main", "ledger", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_worker_killed_at_a_crash_point_loses_and_duplicates_nothing(
    isolated: Exchange, tmp_path: Path, point: str
) -> None:
    batch = _submit_batch(isolated, 4)
    log = tmp_path / "worker.log"
    doomed = start_worker(isolated, log, crash_at=point)
    assert doomed.wait(timeout=60) == -signal.SIGKILL
    survivor = start_worker(isolated, log)
    try:
        _assert_paid_exactly_once(isolated, batch)
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0
    verify = _cli_verify(isolated)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "all invariants hold" in verify.stdout


def test_a_worker_killed_at_a_random_moment_loses_nothing(isolated: Exchange, tmp_path: Path) -> None:
    batch = _submit_batch(isolated, 8)
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    first_seller, first_trade, _ = batch[0]
    poll_until(
        lambda: first_seller.api.get(f"/trades/{first_trade}").json()["status"] == "paid",
        timeout=30,
        what="the first trade to be paid",
    )
    worker.kill()
    worker.wait(timeout=10)
    restarted = start_worker(isolated, log)
    try:
        _assert_paid_exactly_once(isolated, batch)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
    worker_log = log.read_text(errors="replace")
    assert not [s for s in SECRETS if s in worker_log]


def test_no_secret_is_stored_in_plain_text(
    isolated: Exchange, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Voucher codes, PINs and account numbers never appear in the database's files."""
    seller = make_seller(isolated)
    voucher = isolated.mint("booknlife", 10000)
    SECRETS.extend([voucher["code"], seller.account_number])
    # A 4-digit PIN occurs by chance in megabytes of pages; look for it in the forms it
    # would take if it were ever stored in the clear: as JSON, or next to its code.
    pin_forms = [f'"pin": "{voucher["pin"]}"', f'"pin":"{voucher["pin"]}"', voucher["code"] + voucher["pin"]]
    worker = start_worker(isolated, tmp_path / "worker.log")
    try:
        assert seller.api.wait_for(seller.sell(voucher, "booknlife", 10000), timeout=30)["status"] == "paid"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    if isolated.database_url.startswith("sqlite"):
        db_file = Path(isolated.database_url.removeprefix("sqlite:///"))
        files = list(db_file.parent.glob(db_file.name + "*"))  # the main file and its WAL
    else:
        with isolated.ctx.engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
        files = [
            p for p in Path(request.getfixturevalue("postgres_server").datadir).rglob("*") if p.is_file()
        ]
    stored = b"".join(p.read_bytes() for p in files)
    assert len(stored) > 100_000
    assert [form for form in pin_forms if form.encode() in stored] == []
    assert (tmp_path / "worker.log").read_text(errors="replace").count(voucher["code"]) == 0
    leaked = [s for s in SECRETS if s.encode() in stored]
    assert leaked == []
