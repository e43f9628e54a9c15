"""PostgreSQL tells every process what a transaction changed: one NOTIFY with the keys, sent only
if the transaction commits, and a LISTEN feed that hands them to this process's listeners."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from tests.conftest import database_url
from tests.support.polling import poll_until
from voucher_exchange.db import changes
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.uow import UnitOfWork


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _commit_marking(url: str, keys: list[str], *, commit: bool) -> None:
    engine = make_engine(url)
    try:
        with UnitOfWork(engine) as uow:
            uow.conn.execute(text("SELECT 1"))
            for key in keys:
                changes.mark(uow.conn, key)
            if commit:
                uow.commit()
    finally:
        engine.dispose()


def test_a_committed_transaction_notifies_its_keys_and_a_rolled_back_one_nothing(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = database_url(request, "postgresql", tmp_path, "vx_feed_publish")
    with psycopg.connect(_plain(url), autocommit=True) as listener:
        listener.execute(f"LISTEN {changes.CHANNEL}")
        _commit_marking(url, ["trade-c"], commit=False)
        _commit_marking(url, ["trade-b", "trade-a"], commit=True)
        heard = [n.payload for n in listener.notifies(timeout=10, stop_after=1)]
        assert heard == ["trade-a,trade-b"]  # the rolled-back one never arrives, and came first
        many = [f"trade-{n:03}" for n in range(160)]
        _commit_marking(url, many, commit=True)  # more than one NOTIFY's worth
        heard = [n.payload for n in listener.notifies(timeout=10, stop_after=2)]
        assert [p.split(",") for p in heard] == [many[:150], many[150:]]


def test_the_feed_hands_other_processes_changes_to_this_processs_listeners(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = database_url(request, "postgresql", tmp_path, "vx_feed_listen")
    heard: list[frozenset[str]] = []
    unlisten = changes.listen(heard.append)
    stop = threading.Event()
    thread = changes.start_feed(url, stop)
    assert thread is not None
    sent = 0
    try:
        with psycopg.connect(_plain(url), autocommit=True) as other:  # another process's session

            def arrived() -> bool:
                nonlocal sent
                sent += 1  # until the feed listens, a notification is lost: send again
                other.execute("SELECT pg_notify(%s, %s)", (changes.CHANNEL, f"t-{sent},u-{sent}"))
                return any(keys == {f"t-{n}", f"u-{n}"} for keys in heard for n in range(1, sent + 1))

            poll_until(arrived, 10, what="the feed to hear another session's NOTIFY")
    finally:
        stop.set()
        unlisten()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert changes.start_feed(f"sqlite:///{tmp_path}/x.db", stop) is None  # SQLite has no feed
