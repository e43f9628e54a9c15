"""Client CPU per trade in the worker and in the submission, below HTTP, with round-trip counts.

What a worker spends on one trade (screen, verify, redeem, secure, credit, pay out) and
what the API's service layer spends on one quote + submission, in this process's calling
thread (`time.thread_time`: the sandbox serves from its own threads and is not counted),
against a scratch durable PostgreSQL server (or SQLite with `--sqlite`), with the number of
statements and transactions. The worker runs the single path (batch 1) or
`process_many` (`--batch 8`; the outside calls then run on a pool and are not counted).
`python -m bench.trade_cost [--trades 200] [--batch 1] [--sqlite] [--profile]`.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pstats
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from tests.support.core import Core, running_core
from tests.support.postgres import create_database, start_server, stop_server

from voucher_exchange.accounts.models import User
from voucher_exchange.db.schema import trades
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quote_service
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import service as trade_service

BRAND = "cultureland"
FACE = 10000
ISSUED = "2026-01-05T09:00:00+00:00"  # an old voucher: fresh ones in a row are held for review


class Counts:
    """Statements and transactions run on an engine, from its events."""

    def __init__(self, core: Core) -> None:
        self.statements = 0
        self.transactions = 0
        event.listen(core.ctx.engine, "before_cursor_execute", self._statement)
        event.listen(core.ctx.engine, "begin", self._begin)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _begin(self, *_: Any) -> None:
        self.transactions += 1

    def reset(self) -> None:
        self.statements = self.transactions = 0


def _measure(label: str, n: int, counts: Counts, work: Callable[[], None]) -> None:
    counts.reset()
    cpu = time.thread_time()
    work()
    cpu = time.thread_time() - cpu
    print(
        f"{label}: {cpu * 1000 / n:.2f} ms CPU, {counts.statements / n:.1f} statements,"
        f" {counts.transactions / n:.1f} transactions per trade"
    )


def _run(core: Core, args: argparse.Namespace) -> None:
    core.fund(10**12)
    # At most four trades each (as the load generator does), so none is held for velocity.
    sellers = [core.seller() for _ in range(-(-(2 * args.trades + 40) // 4))]
    counts = Counts(core)
    sales = itertools.count()

    def submit_all(how_many: int, measured: bool = False) -> list[str]:
        """Quote and submit `how_many` vouchers (minted first, at the sandbox, not measured)."""
        codes = [
            core.sandbox("/issuer/vouchers", {"brand": BRAND, "face_value": FACE, "issued_at": ISSUED})[
                "code"
            ]
            for _ in range(how_many)
        ]
        done: list[str] = []

        def sell() -> None:
            for code in codes:
                n = next(sales) // 4
                user, destination, _ = sellers[n]
                done.append(_sell(core, user, destination, code, n))

        if measured:
            _measure("quote + submit (service layer)", how_many, counts, sell)
        else:
            sell()
        return done

    submit_all(20)  # warm: caches, pool, prepared statements
    ids = submit_all(args.trades, measured=True)
    pool = ThreadPoolExecutor(args.batch) if args.batch > 1 else None

    def process(trade_ids: list[str]) -> None:
        if pool is None:
            for trade_id in trade_ids:
                pipeline.process_trade(core.ctx, trade_id)
            return
        for i in range(0, len(trade_ids), args.batch):
            pipeline.process_many(core.ctx, trade_ids[i : i + args.batch], pool)

    process(submit_all(20))
    _measure(f"worker, batch {args.batch}", args.trades, counts, lambda: process(ids))
    with core.ctx.uow(readonly=True) as uow:
        query = select(trades.c.status, func.count()).where(trades.c.id.in_(ids)).group_by(trades.c.status)
        print("ended:", dict(tuple(r) for r in uow.conn.execute(query)))
    if args.profile:
        more = submit_all(args.trades)
        profile = cProfile.Profile(time.thread_time)  # CPU, not waiting
        profile.runcall(process, more)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


def _sell(core: Core, user: User, destination: str, code: str, seller: int) -> str:
    """What `POST /quotes` and `POST /trades` do in their transactions (no HTTP, no rate limits)."""
    ctx = core.ctx
    with ctx.uow() as uow:
        quote = quote_service.create_quote(uow.conn, ctx.settings, ctx.clock, user, BRAND, Money(FACE, "KRW"))
        uow.commit()
    cmd = trade_service.SubmitTrade(
        quote.id,
        code,
        None,
        AcquisitionMethod.GIFT,
        date(2026, 11, 1),
        destination,
        f"10.1.{seller // 250}.{seller % 250}",
        f"device-{seller}",
    )
    with ctx.uow() as uow:
        trade_id = trade_service.submit(uow.conn, ctx.clock, ctx.vault, user, cmd)
        uow.commit()
    return trade_id


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of durable PostgreSQL")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the worker")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="vx-trade-cost-"))
    if args.sqlite:
        with running_core(var, f"sqlite:///{var / 'exchange.db'}") as core:
            _run(core, args)
        return
    server = start_server(durable=True)
    try:
        with running_core(var, create_database(server, "vx_trade_cost")) as core:
            _run(core, args)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
