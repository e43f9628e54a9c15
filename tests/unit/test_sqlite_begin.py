"""SQLite transactions begin on the driver's connection: a writer that cannot get the lock still
fails as the usual wrapped, retryable database error, and a reader never waits for a writer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.retry import is_transient
from voucher_exchange.db.uow import UnitOfWork


def test_a_writer_that_cannot_lock_gets_a_retryable_error_and_a_reader_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "vx.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with engine.connect() as conn:
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            with pytest.raises(OperationalError) as refused:
                conn.begin()
        assert "database is locked" in str(refused.value.orig)
        assert is_transient(refused.value)

        with UnitOfWork(engine, readonly=True) as uow:
            assert uow.conn.exec_driver_sql("SELECT count(*) FROM jobs").scalar_one() == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
        engine.dispose()
