"""Scale-out on PostgreSQL: 2 API and 3 worker processes, hundreds of trades, a worker SIGKILLed mid-run.

`make test` pushes 300 trades (VX_SCALE_TRADES, default 300); `make test-all` sets
VX_SCALE_TRADES=2000, the full run. Either way a worker is SIGKILLed a third of the way in
and every invariant below is checked. Correctness only; speed is measured by `make bench`
(bench/scale_out.py), not here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from pytest_postgresql.executors.proc import PostgreSQLExecutor
from sqlalchemy import Engine, func, select

from tests.support import load
from tests.support.cluster import Cluster, cluster
from tests.support.polling import poll_until
from tests.support.postgres import create_database
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import payouts, trades

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
# 2,000 in `make test-all`; a few hundred keep `make test` quick and still kill a worker mid-run.
TRADES = int(os.environ.get("VX_SCALE_TRADES", "300"))


@pytest.fixture(scope="module")
def deployment(
    postgres_server: PostgreSQLExecutor, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, Engine]]:
    url = create_database(postgres_server, "vx_scale")
    # A seller per 4 trades signs up first (501 at 2,000 trades): at the shipped argon2 cost that
    # alone took minutes (429 busy, retry).
    with cluster(tmp_path_factory.mktemp("scale"), url, test_password_cost=True) as running:
        engine = make_engine(url)
        yield running, engine
        engine.dispose()


def test_two_apis_three_workers_hundreds_of_trades_one_killed_worker(
    deployment: tuple[Cluster, Engine],
) -> None:
    running, engine = deployment
    killed = False

    def maybe_kill(submitted: int) -> None:
        nonlocal killed
        if not killed and submitted >= TRADES // 3:
            killed = True
            running.workers[0].kill()  # SIGKILL mid-run: its leased jobs must be taken over
            running.start_worker()

    pushed = load.push(running.api_urls, running.sandbox_url, TRADES, on_submitted=maybe_kill)
    assert killed and running.workers[0].wait(timeout=10) == -9
    poll_until(lambda: load.open_trades(engine) == 0, timeout=600, interval=0.5, what="every trade to finish")

    assert len(pushed.trade_ids) == TRADES
    assert len(pushed.keyed_trade_ids) == 1
    with engine.connect() as conn:
        by_status = dict(conn.execute(select(trades.c.status, func.count()).group_by(trades.c.status)).all())
        assert by_status == {"paid": TRADES + 1, "rejected": 20}
        dupes = conn.execute(
            select(trades.c.status, trades.c.id).where(trades.c.id.in_(pushed.duplicate_trade_ids))
        ).all()
        assert {status for status, _ in dupes} == {"rejected"}
        most_per_voucher = conn.execute(
            select(func.count())
            .select_from(trades)
            .where(trades.c.status == "paid")
            .group_by(trades.c.voucher_fingerprint)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        assert most_per_voucher == 1
        executed = conn.execute(
            select(func.count(), func.sum(payouts.c.amount)).where(payouts.c.status == "executed")
        ).one()
    rail = httpx.get(running.sandbox_url + "/rail/transfers", timeout=60).json()["transfers"]
    assert (
        (len(rail), sum(t["amount"] for t in rail))
        == (executed[0], executed[1])
        == (TRADES + 1, 9000 * (TRADES + 1))
    )
    assert len({t["idempotency_key"] for t in rail}) == len(rail)

    verify = running.run("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "all invariants hold" in verify.stdout
