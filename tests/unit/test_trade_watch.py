"""The live timeline's wake-ups: a committed change to the trade, and the server stopping."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import create_engine, text

from voucher_exchange.db import changes
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.web.live import TradeWatch

LONG = 600.0  # the stream's own wait: far longer than the test's bound below


def _run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """asyncio.run in a thread of its own (another test's Playwright may hold this thread's loop)."""
    failed: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def _commit_marking(trade_id: str, *, commit: bool) -> None:
    engine = create_engine("sqlite://")
    with UnitOfWork(engine) as uow:
        uow.conn.execute(text("SELECT 1"))
        changes.mark(uow.conn, trade_id)
        if commit:
            uow.commit()
    engine.dispose()


def test_a_committed_change_wakes_the_trade_and_a_rollback_does_not() -> None:
    watch = TradeWatch()

    async def scenario() -> None:
        rolled_back = asyncio.create_task(watch.wait("t-1", 0.5))
        await asyncio.sleep(0)  # the waiter is registered
        threading.Thread(target=_commit_marking, args=("t-1",), kwargs={"commit": False}).start()
        await rolled_back  # woken only by its own short timeout
        waiting = asyncio.create_task(watch.wait("t-1", LONG))
        other = asyncio.create_task(watch.wait("t-2", LONG))
        await asyncio.sleep(0)
        worker = threading.Thread(target=_commit_marking, args=("t-1",), kwargs={"commit": True})
        worker.start()
        await asyncio.wait_for(waiting, 10)
        assert not other.done()
        other.cancel()

    try:
        _run(scenario)
    finally:
        watch.close()


def test_closing_ends_every_wait_and_later_ones_return_at_once() -> None:
    watch = TradeWatch()

    async def scenario() -> None:
        waits = [asyncio.create_task(watch.wait(f"t-{n}", LONG)) for n in range(3)]
        await asyncio.sleep(0)
        watch.close()
        await asyncio.wait_for(asyncio.gather(*waits), 10)
        await asyncio.wait_for(watch.wait("t-9", LONG), 1)

    _run(scenario)
    assert watch.closed


def test_marks_are_forgotten_when_the_connection_is_reused() -> None:
    key = "t-1"
    heard: list[frozenset[str]] = []
    stop = changes.listen(heard.append)
    try:
        engine = create_engine("sqlite://")
        with UnitOfWork(engine) as uow:
            changes.mark(uow.conn, key)  # rolled back
        with UnitOfWork(engine) as uow:
            uow.conn.execute(text("SELECT 1"))
            uow.commit()
        engine.dispose()
    finally:
        stop()
    assert heard == []
