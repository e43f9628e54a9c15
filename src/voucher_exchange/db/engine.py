"""Engines for SQLite (embedded default) and PostgreSQL; dialect quirks live here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded SQLite backend."""
    return engine.dialect.name == "sqlite"


def _json_text(value: Any) -> str:
    # JSON columns store Korean as written ("승인"), not as \uXXXX escapes: readable in SQL
    # consoles and exports. Reading gives the same value either way, so old rows need nothing.
    return json.dumps(value, ensure_ascii=False)


def make_engine(database_url: str) -> Engine:
    """An engine with the settings each backend needs for correct concurrency.

    SQLite: WAL, foreign keys on, a generous busy timeout, and every transaction
    opened with BEGIN IMMEDIATE so writers queue instead of failing on lock upgrade.
    PostgreSQL: psycopg 3, READ COMMITTED plus explicit row locks and conditional updates.
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
    # No pool_pre_ping (a round trip before every transaction): connections are recycled
    # before a server or proxy would drop them, and a connection that died anyway fails its
    # transaction with `connection_invalidated`, which the worker retries as transient.
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        hide_parameters=True,
        json_serializer=_json_text,
    )


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
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers must not queue behind writers; writers take the lock up front.
        readonly = conn.get_execution_options().get("vx_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
