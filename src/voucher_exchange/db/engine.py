"""Engines for SQLite (embedded default) and PostgreSQL; dialect quirks live here."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from voucher_exchange.db.retry import is_connection_failure

# How long a new PostgreSQL connection waits for a server that is restarting; longer, and the
# request is answered 503 database_unavailable with Retry-After (api/errors.py).
CONNECT_WAIT_SECONDS = 5.0

SQLITE_CACHE_KIB = 1024
"""Page cache per SQLite connection, in KiB (SQLite's default is 2,000). A process keeps up to
8 pooled connections and opens more under load, so this bounds its page caches at a few MB.
Little is lost: in WAL mode a connection drops its whole cache whenever another one has
committed since its last transaction, which here is nearly every time; pages it misses come
from the operating system's file cache."""


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded SQLite backend."""
    return engine.dialect.name == "sqlite"


def commit_counter(engine: Engine) -> tuple[Callable[[], int], Callable[[], None]] | None:
    """SQLite file: (read, close) of a number that changes whenever any connection, in any
    process, commits to the database (`PRAGMA data_version` on a connection kept for it, which
    itself never writes). Reading it costs microseconds and no transaction, so an idle poller can
    skip its query while nothing changed. None for PostgreSQL and in-memory SQLite.
    """
    if not is_sqlite(engine) or not engine.url.database or engine.url.database == ":memory:":
        return None
    watch = sqlite3.connect(engine.url.database, check_same_thread=False, isolation_level=None)

    def read() -> int:
        return int(watch.execute("PRAGMA data_version").fetchone()[0])

    return read, watch.close


def _json_text(value: Any) -> str:
    # JSON columns store Korean as written ("승인"), not as \uXXXX escapes: readable in SQL
    # consoles and exports. Reading gives the same value either way, so old rows need nothing.
    return json.dumps(value, ensure_ascii=False)


def make_engine(database_url: str, connect_wait_seconds: float = CONNECT_WAIT_SECONDS) -> Engine:
    """An engine with the settings each backend needs for correct concurrency.

    SQLite: WAL, foreign keys on, a generous busy timeout, and every transaction
    opened with BEGIN IMMEDIATE so writers queue instead of failing on lock upgrade.
    PostgreSQL: psycopg 3, READ COMMITTED plus explicit row locks and conditional updates;
    dead pooled connections are replaced before use, and a server that cannot take a new
    connection yet (restarting) is waited for up to `connect_wait_seconds`.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=16,
            hide_parameters=True,
            json_serializer=_json_text,
        )
        _tune_sqlite(engine)
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    # hide_parameters: errors and logs never carry bound values (defence in depth for secrets).
    # pool_pre_ping: a pooled connection is tried (one empty-query round trip, about 50 µs of
    # CPU) before a transaction gets it, so one that died with the server (a restart, a
    # failover) is replaced before any work is sent on it, for every request, page and job
    # alike. A connection that dies during a transaction still fails it: the retry policy
    # (db/retry.py) decides whether the work may run again.
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        pool_pre_ping=True,
        hide_parameters=True,
        json_serializer=_json_text,
    )
    _connect_patiently(engine, connect_wait_seconds)
    return engine


def _connect_patiently(engine: Engine, wait_seconds: float) -> None:
    """Keep trying a new connection for up to `wait_seconds` while the server cannot take it yet.

    A restarting server refuses connections, then answers "the database system is starting
    up" until crash recovery is done, usually a second or two: waiting that out turns the
    restart into latency instead of errors. Other failures (a wrong password, no such
    database) are raised at once. Nothing has been sent yet, so trying again is always safe.
    """

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        deadline = time.monotonic() + wait_seconds
        pause = 0.05
        while True:
            try:
                return dialect.connect(*cargs, **cparams)
            except psycopg.OperationalError as exc:
                left = deadline - time.monotonic()
                if not _not_ready(exc) or left <= 0:
                    raise
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.5)


def _not_ready(error: psycopg.OperationalError) -> bool:
    """True when a new connection failed because the server is away or not ready yet.

    psycopg gives no SQLSTATE for a refused connection attempt; the server's refusal is
    text. Refused, reset or timed out (no "FATAL:" from the server), or "the database
    system is starting up / shutting down / in recovery mode / not yet accepting
    connections": wait. Any other FATAL (no such database, a wrong password, too many
    clients) is answered at once. (A server that words its messages in another language is
    not waited for: its restart then shows as 503 database_unavailable for a second.)
    """
    if not is_connection_failure(error):
        return False
    message = str(error)
    return "FATAL:" not in message or "the database system is" in message


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers must not queue behind writers; writers take the lock up front. Sent on the
        # driver's connection: through SQLAlchemy's execution path it cost ~5% of a trade's CPU.
        begin = "BEGIN" if conn.get_execution_options().get("vx_readonly", False) else "BEGIN IMMEDIATE"
        try:
            conn.connection.driver_connection.execute(begin)
        except sqlite3.Error as exc:  # e.g. still locked after busy_timeout: the usual wrapped error
            raise DBAPIError.instance(begin, None, exc, sqlite3.Error) from exc
