"""Client CPU per trade in the worker and in the submission, below HTTP, with round-trip counts.

What a worker spends on one trade (screen, verify, redeem, secure, credit, pay out) and
what the API's service layer spends on one quote + submission, in this process's calling
thread (`time.thread_time`: the sandbox serves from its own threads and is not counted),
against a scratch durable PostgreSQL server (or SQLite with `--sqlite`), with the number of
statements and transactions. The worker runs the single path (batch 1) or
`process_many` (`--batch 8`; the outside calls then run on a pool and are not counted).
`--jobs` runs the worker's job runner instead (job claims and the notices a trade enqueues
counted too). `python -m bench.trade_cost [--trades 200] [--batch 1] [--jobs] [--sqlite] [--top 40]
[--profile]`.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pstats
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
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
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.worker.runner import Worker

BRAND = "cultureland"
FACE = 10000
ISSUED = "2026-01-05T09:00:00+00:00"  # an old voucher: fresh ones in a row are held for review


_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def statement_kind(sql: str) -> str:
    """A statement as `VERB table` (the first table it names), e.g. `INSERT trade_events`."""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb == "WITH":
        # A data-modifying CTE: named by what it writes.
        writes = re.search(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", sql, re.IGNORECASE)
        if writes:
            return f"WITH {writes.group(1).split()[0].upper()} {writes.group(2)}"
    outer = sql
    while (inner := re.sub(r"\([^()]*\)", "", outer)) != outer:  # subqueries out: the outer FROM
        outer = inner
    table = _TABLE.search(outer)
    return f"{verb} {table.group(1) if table else ''}".strip()


class Counts:
    """Statements and transactions run on an engine, from its events.

    `data` counts the statements sent through a cursor other than transaction control;
    `begins`, `ends` (COMMIT or ROLLBACK) and `savepoints` (SAVEPOINT, RELEASE, ROLLBACK TO)
    count the rest, so `statements` is what the server is sent (psycopg sends BEGIN itself
    before a transaction's first statement).
    """

    def __init__(self, core: Core) -> None:
        self.kinds: Counter[str] = Counter()
        self.begins = self.ends = self.savepoints = 0
        engine = core.ctx.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", self._begin)
        for name in ("commit", "rollback"):
            event.listen(engine, name, self._end)
        for name in ("savepoint", "release_savepoint", "rollback_savepoint"):
            event.listen(engine, name, self._savepoint)

    def _statement(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if not sql.lstrip().upper().startswith(_CONTROL):
            self.kinds[statement_kind(sql)] += 1

    def _begin(self, *_: Any) -> None:
        self.begins += 1

    def _end(self, *_: Any) -> None:
        self.ends += 1

    def _savepoint(self, *_: Any) -> None:
        self.savepoints += 1

    @property
    def data(self) -> int:
        """Statements other than transaction control."""
        return sum(self.kinds.values())

    @property
    def statements(self) -> int:
        """Every statement the server is sent."""
        return self.data + self.begins + self.ends + self.savepoints

    def reset(self) -> None:
        self.kinds.clear()
        self.begins = self.ends = self.savepoints = 0


def _measure(label: str, n: int, counts: Counts, work: Callable[[], None], top: int) -> None:
    counts.reset()
    cpu = time.thread_time()
    work()
    cpu = time.thread_time() - cpu
    print(
        f"{label}: {cpu * 1000 / n:.2f} ms CPU, {counts.statements / n:.1f} statements"
        f" ({counts.data / n:.1f} data, {(counts.begins + counts.ends) / n:.1f} BEGIN/COMMIT/ROLLBACK,"
        f" {counts.savepoints / n:.1f} savepoint), {counts.begins / n:.1f} transactions per trade"
    )
    for kind, count in counts.kinds.most_common(top):
        print(f"  {count / n:5.2f}  {kind}")


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
            _measure("quote + submit (service layer)", how_many, counts, sell, args.top)
        else:
            sell()
        return done

    pool = ThreadPoolExecutor(args.batch) if args.batch > 1 else None

    def process(trade_ids: list[str]) -> None:
        if args.jobs:  # the job runner: every due job, the trades' and what they enqueue
            worker = Worker(
                replace(core.ctx, settings=replace(core.ctx.settings, worker_batch_size=args.batch))
            )
            while worker.run_once():
                pass
            return
        if pool is None:
            for trade_id in trade_ids:
                pipeline.process_trade(core.ctx, trade_id)
            return
        for i in range(0, len(trade_ids), args.batch):
            pipeline.process_many(core.ctx, trade_ids[i : i + args.batch], pool)

    process(submit_all(20))  # warm: caches, pool, prepared statements
    ids = submit_all(args.trades, measured=True)
    # In a deployment the worker is another process than the API: it starts without the API's
    # memo of each trade's newest event hash (trades/repository.py).
    trade_repo._HEADS.clear()
    label = f"worker{' (job runner, every due job)' if args.jobs else ''}, batch {args.batch}"
    _measure(label, args.trades, counts, lambda: process(ids), args.top)
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
    parser.add_argument(
        "--top", type=int, default=0, help="list the N most frequent statements (verb, table)"
    )
    parser.add_argument(
        "--jobs",
        action="store_true",
        help="the worker's job runner (claims, notices) instead of the pipeline",
    )
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
