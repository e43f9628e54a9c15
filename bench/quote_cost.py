"""CPU per quote in the service layer alone: authenticate, count the limits, price and store.

What an API process spends on one `POST /quotes` below HTTP (no uvicorn, FastAPI or
JSON), in one thread, on a scratch PostgreSQL server, with statement counts. The rest
of the API's CPU per quote (the bench's figure) is the HTTP side.
`python -m bench.quote_cost [--quotes 500] [--profile]`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event
from tests.support.exchange import settings_for
from tests.support.postgres import create_database, start_server, stop_server

from voucher_exchange import idempotency
from voucher_exchange.accounts import service as accounts
from voucher_exchange.bootstrap import build_context
from voucher_exchange.context import Context
from voucher_exchange.db import migrate
from voucher_exchange.demo import seed
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quotes
from voucher_exchange.security import throttle


def _quote(ctx: Context, token: str) -> None:
    """What `POST /quotes` does below HTTP."""
    user = accounts.authenticate_api(ctx, token)
    throttle.hit(ctx, *throttle.quote(user.id, "10.0.0.1"))

    def work(uow: Any) -> idempotency.Result:
        made = quotes.create_quote(
            uow.conn, ctx.settings, ctx.clock, user, "cultureland", Money(10000, "KRW")
        )
        return 201, {"id": made.id}

    idempotency.run(ctx, user.id, None, "POST /quotes", {}, work)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quotes", type=int, default=500)
    parser.add_argument(
        "--profile", action="store_true", help="print the top of a cProfile by cumulative time"
    )
    args = parser.parse_args()
    server = start_server()
    try:
        url = create_database(server, "vx_quote_cost")
        ctx = build_context(settings_for(Path(tempfile.mkdtemp()), url), "http://127.0.0.1:9/sandbox")
        migrate.upgrade(ctx.engine)
        seed(ctx)
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
        cpu = time.process_time()
        for _ in range(args.quotes):
            _quote(ctx, token)
        cpu = time.process_time() - cpu
        print(
            f"{cpu * 1000 / args.quotes:.2f} ms CPU and {statements[0] / args.quotes:.1f} statements per quote"
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
        stop_server(server)


if __name__ == "__main__":
    main()
