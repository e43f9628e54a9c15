"""The bench's phases that talk to a database directly: raw commits, ledger transfers,
waiting for trades to settle, and the one-at-a-time latency phase."""

from __future__ import annotations

import itertools
import sqlite3
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.engine import make_url

from bench.generator import sell
from voucher_exchange.db import migrate as migrations
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import payouts, trade_events, trades
from voucher_exchange.ledger import repository as ledger
from voucher_exchange.ledger.models import Phase, TransferIntent, inventory, seller_payable

SETTLED = ["paid", "rejected", "cancelled", "failed", "reversed", "in_review"]
_pause = threading.Event()  # never set: a bounded pause between polls


def conninfo(database_url: str) -> str:
    """A libpq connection string for a postgresql+psycopg:// URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def raw_commits(database_url: str, commits: int, tick: Callable[[], None]) -> float:
    """Single-row INSERT + COMMIT on one connection, one row at a time: the database's floor.

    SQLite runs with the project's own pragmas (WAL, synchronous=NORMAL).
    """
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        db = sqlite3.connect(str(path), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE bench_commits (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        start = time.perf_counter()
        for i in range(commits):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO bench_commits (v) VALUES (?)", (i,))
            db.execute("COMMIT")
            tick()
        elapsed = time.perf_counter() - start
        db.close()
        return commits / elapsed
    with psycopg.connect(conninfo(database_url)) as conn:
        conn.execute("CREATE TABLE bench_commits (id bigserial PRIMARY KEY, v integer NOT NULL)")
        conn.commit()
        start = time.perf_counter()
        for i in range(commits):
            conn.execute("INSERT INTO bench_commits (v) VALUES (%s)", (i,))
            conn.commit()
            tick()
        return commits / (time.perf_counter() - start)


def ledger_transfers(database_url: str, transfers: int, tick: Callable[[], None]) -> float:
    """Transfers/s through the ledger's own `write`, one transaction each, on one connection.

    Each is what crediting a seller writes (inventory → seller payable), spread over 250
    sellers' accounts, on a freshly migrated database with the project's engine settings.
    """
    engine = make_engine(database_url)
    migrations.upgrade(engine)
    now = datetime.now(UTC)
    intents = [
        TransferIntent(
            f"trade:bench-{i}:credit",
            f"trade:bench-{i}",
            inventory("cultureland", "KRW"),
            seller_payable(f"seller-{i % 250}", "KRW"),
            9_000,
            Phase.SINGLE,
            "voucher secured: seller credited",
        )
        for i in range(transfers)
    ]
    with engine.connect() as conn:
        start = time.perf_counter()
        for intent in intents:
            with conn.begin():
                ledger.write(conn, intent, now)
            tick()
        elapsed = time.perf_counter() - start
    engine.dispose()
    return transfers / elapsed


def _reader(engine: Engine) -> Connection:
    # A read-only transaction per poll (SQLite: plain BEGIN, so it never queues behind writers).
    return engine.connect().execution_options(vx_readonly=True)


def wait_settled(engine: Engine, total: int, progress: Callable[[int], None], timeout: float) -> int:
    """Poll (every 0.5 s) until no trade is still moving; returns how many have settled."""
    deadline = time.monotonic() + timeout
    query = select(func.count()).select_from(trades).where(trades.c.status.in_(SETTLED))
    with _reader(engine) as conn:
        while True:
            settled = int(conn.execute(query).scalar_one())
            conn.rollback()
            progress(settled)
            if settled >= total:
                return settled
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {settled} of {total} trades settled in {timeout:.0f} s")
            _pause.wait(0.5)


def one_at_a_time(
    engine: Engine,
    api: str,
    sellers: list[dict[str, Any]],
    codes: list[str],
    tick: Callable[[], None],
    timeout: float = 30,
) -> list[str]:
    """Each trade submitted only once the previous one settled: latency with no queue.

    Waiting reads that one trade's status by primary key every 2 ms (not a count of all trades).
    """
    ids = []
    with httpx.Client(base_url=api + "/api/v1", timeout=60) as http, _reader(engine) as conn:
        for n, code in enumerate(codes):
            trade_id = sell(http, sellers[n % len(sellers)], code)
            query = select(trades.c.status).where(trades.c.id == trade_id)
            deadline = time.monotonic() + timeout
            while True:
                status = conn.execute(query).scalar_one()
                conn.rollback()
                if status in SETTLED:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"trade {trade_id} still {status} after {timeout:.0f} s")
                _pause.wait(0.002)
            ids.append(trade_id)
            tick()
    return ids


def status_counts(engine: Engine, ids: list[str]) -> dict[str, int]:
    """How many of these trades are in each status."""
    with _reader(engine) as conn:
        rows = conn.execute(
            select(trades.c.status, func.count()).where(trades.c.id.in_(ids)).group_by(trades.c.status)
        ).all()
        distinct_ips = conn.execute(
            select(func.count(trades.c.client_ip.distinct())).where(trades.c.id.in_(ids))
        ).scalar_one()
    counts = {str(status): int(n) for status, n in rows}
    counts["distinct client IPs"] = int(distinct_ips)
    return counts


def steps(engine: Engine, ids: list[str]) -> list[tuple[str, float]]:
    """Where one trade's time goes: the median seconds of each step, in the order they happen.

    Each trade's moments come from the database's own timestamps: its submission, every
    status change (`trade_events.at`), and its payout's creation, sending and settlement.
    """
    moments: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    with _reader(engine) as conn:
        for trade_id, at in conn.execute(
            select(trades.c.id, trades.c.created_at).where(trades.c.id.in_(ids))
        ):
            moments[trade_id].append((at, "submitted"))
        events = select(trade_events.c.trade_id, trade_events.c.at, trade_events.c.to_status).where(
            trade_events.c.trade_id.in_(ids)
        )
        for trade_id, at, status in conn.execute(events.order_by(trade_events.c.id)):
            moments[trade_id].append((at, status))
        paid = select(payouts.c.trade_id, payouts.c.created_at, payouts.c.sent_at, payouts.c.settled_at)
        for trade_id, created, sent, settled in conn.execute(paid.where(payouts.c.trade_id.in_(ids))):
            moments[trade_id] += [
                (created, "payout created"),
                (sent, "payout sent"),
                (settled, "payout settled"),
            ]
    spans: dict[str, list[float]] = defaultdict(list)
    for trade in moments.values():
        # Stable sort: moments of one transaction share a timestamp and keep their written order.
        ordered = sorted((m for m in trade if m[0] is not None), key=lambda m: m[0])
        for (start, before), (end, after) in itertools.pairwise(ordered):
            spans[f"{before} → {after}"].append((end - start).total_seconds())
    return [(name, statistics.median(values)) for name, values in spans.items()]


CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET", "SHOW", "LISTEN", "DISCARD")
"""Statement kinds that move no data: transaction control, savepoints, session settings."""


def statement_counts(database_url: str) -> dict[str, int] | None:
    """PostgreSQL's own count of what ran in one database so far (every process's): statements
    sent by clients (pg_stat_statements' top-level ones, data and control apart), the statements
    the server ran inside them (`nested`: foreign-key checks, with `track = all`), and
    transactions (pg_stat_database). None when the server does not load pg_stat_statements
    (`make bench` starts it so)."""
    if not database_url.startswith("postgresql"):
        return None
    with psycopg.connect(conninfo(database_url), autocommit=True) as conn:
        loaded = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
        if loaded is None:
            try:
                conn.execute("CREATE EXTENSION pg_stat_statements")
            except psycopg.Error:
                return None
        counted = conn.execute(
            "SELECT coalesce(sum(calls) FILTER (WHERE s.toplevel), 0),"
            " coalesce(sum(calls) FILTER (WHERE s.toplevel"
            "   AND upper(split_part(ltrim(s.query), ' ', 1)) = ANY(%s)), 0),"
            " coalesce(sum(calls) FILTER (WHERE NOT s.toplevel), 0)"
            " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database()",
            (list(CONTROL),),
        ).fetchone()
        xacts = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert counted is not None and xacts is not None
    return {
        "statements": int(counted[0]),
        "control": int(counted[1]),
        "nested": int(counted[2]),
        "transactions": int(xacts[0]),
    }
