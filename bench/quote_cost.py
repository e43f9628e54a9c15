"""CPU per quote in the service layer alone: authenticate, count the limits, price, store and
state the promise (with the review wait it quotes).

What an API process spends on one `POST /quotes` below HTTP (no uvicorn, FastAPI or
JSON), in one thread, on a scratch PostgreSQL server (its CPU is reported too) or a SQLite
file (`--sqlite`: in this process, as the embedded default runs), with statement counts. The
rest of the API's CPU per quote (the bench's figure) is the HTTP side. `--history N` first
stores N trades' worth of status history (8 events each, none of them a review): what a quote
costs should not grow with it.
`python -m bench.quote_cost [--quotes 500] [--sqlite] [--history 20000] [--profile]`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert
from tests.support.exchange import settings_for
from tests.support.postgres import create_database, start_server, stop_server

from bench import measure
from voucher_exchange import idempotency
from voucher_exchange.accounts import service as accounts
from voucher_exchange.bootstrap import build_context
from voucher_exchange.context import Context
from voucher_exchange.db import migrate
from voucher_exchange.db.schema import trade_events
from voucher_exchange.demo import seed
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quotes
from voucher_exchange.security import throttle
from voucher_exchange.trades.seller_view import promise_for_quote

EVENTS_PER_TRADE = 8
_PATH = ("received", "screening", "verifying", "redeeming", "credited", "paying_out", "paid")


def _store_history(ctx: Context, trades: int) -> None:
    """`trades` trades' status events as raw rows (none in review), constraints off while they
    are written: the history a long-running exchange has, without running every trade."""
    rows = [
        {
            "trade_id": f"history-{n // EVENTS_PER_TRADE}",
            "at": ctx.clock.now(),
            "from_status": _PATH[n % EVENTS_PER_TRADE - 1] if n % EVENTS_PER_TRADE else None,
            "to_status": _PATH[min(n % EVENTS_PER_TRADE, len(_PATH) - 1)],
            "actor": "worker",
        }
        for n in range(trades * EVENTS_PER_TRADE)
    ]
    if ctx.engine.dialect.name == "sqlite":
        # Its own driver connection: SQLite changes foreign_keys only outside a transaction.
        raw = sqlite3.connect(str(ctx.engine.url.database))
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.executemany(
            "INSERT INTO trade_events (trade_id, at, from_status, to_status, actor)"
            " VALUES (:trade_id, :at, :from_status, :to_status, :actor)",
            [{**row, "at": row["at"].isoformat()} for row in rows],
        )
        raw.commit()
        raw.close()
        return
    with ctx.engine.connect() as conn:
        conn.exec_driver_sql("SET session_replication_role = replica")
        for at in range(0, len(rows), 20_000):
            conn.execute(insert(trade_events), rows[at : at + 20_000])
        conn.exec_driver_sql("SET session_replication_role = DEFAULT")
        conn.commit()
        conn.exec_driver_sql("ANALYZE trade_events")
        conn.commit()


def _quote(ctx: Context, token: str) -> None:
    """What `POST /quotes` does below HTTP."""
    user = accounts.authenticate_api(ctx, token)
    throttle.hit(ctx, *throttle.quote(user.id, "10.0.0.1"))

    def work(uow: Any) -> idempotency.Result:
        made = quotes.create_quote(
            uow.conn, ctx.settings, ctx.clock, user, "cultureland", Money(10000, "KRW")
        )
        promise = promise_for_quote(uow.conn, ctx.settings, made.fee, made.created_at, made.expires_at)
        return 201, {"id": made.id, "promise": promise}

    idempotency.run(ctx, user.id, None, "POST /quotes", {}, work)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quotes", type=int, default=500)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--history", type=int, default=0, help="trades of status history stored first")
    parser.add_argument(
        "--profile", action="store_true", help="print the top of a cProfile by cumulative time"
    )
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="vx-quote-cost-"))
    server = None if args.sqlite else start_server()
    try:
        if server is None:
            url = f"sqlite:///{var / 'quote-cost.db'}"
            postmaster = None
        else:
            url = create_database(server, "vx_quote_cost")
            postmaster = int((Path(server.datadir) / "postmaster.pid").read_text().split()[0])
        ctx = build_context(settings_for(var, url), "http://127.0.0.1:9/sandbox")
        migrate.upgrade(ctx.engine)
        seed(ctx)
        if args.history:
            _store_history(ctx, args.history)
        token = accounts.register(
            ctx, f"q-{uuid.uuid4().hex[:8]}@example.com", "correct-horse-battery", None
        ).token
        statements = [0]
        event.listen(
            ctx.engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1)
        )
        for _ in range(50):  # warm: caches, pool, prepared statements
            _quote(ctx, token)
        statements[0] = 0
        server_cpu = measure.tree_cpu_seconds(postmaster) if postmaster else 0.0
        cpu = time.process_time()
        for _ in range(args.quotes):
            _quote(ctx, token)
        cpu = time.process_time() - cpu
        server_cpu = (measure.tree_cpu_seconds(postmaster) - server_cpu) if postmaster else 0.0
        where = "SQLite" if server is None else "PostgreSQL"
        history = f", {args.history:,} trades of history" if args.history else ""
        print(
            f"{where}{history}: {cpu * 1000 / args.quotes:.2f} ms CPU in this process"
            + (f" + {server_cpu * 1000 / args.quotes:.2f} ms in PostgreSQL" if postmaster else "")
            + f", {statements[0] / args.quotes:.1f} statements per quote"
        )
        if args.profile:
            profile = cProfile.Profile()

            def many() -> None:
                for _ in range(args.quotes):
                    _quote(ctx, token)

            profile.runcall(many)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        ctx.close()
    finally:
        if server is not None:
            stop_server(server)


if __name__ == "__main__":
    main()
