"""An idle worker on SQLite looks for work only when something was committed or came due.

The look is a transaction (BEGIN IMMEDIATE, the claim, the next due time, COMMIT); while no
connection in any process has committed since the last empty look, and nothing it knew of has
come due, the worker reads SQLite's commit counter instead and runs no statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from tests.support.core import Core
from voucher_exchange.db.engine import commit_counter, make_engine
from voucher_exchange.db.schema import jobs
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.jobs import queue
from voucher_exchange.worker.runner import JobKind, Worker

LATER = "test.later"


@pytest.fixture
def statements(core: Core) -> Iterator[list[str]]:
    """Every statement the core's engine sends, in order."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(core.ctx.engine, "before_cursor_execute", record)
    yield sent
    event.remove(core.ctx.engine, "before_cursor_execute", record)


def _other_process(core: Core) -> Engine:
    """A second engine on the same file: its commits reach this process by the file alone."""
    return make_engine(str(core.ctx.engine.url))


def _idle_worker(core: Core) -> Worker:
    worker = Worker(core.ctx, handlers={LATER: JobKind(lambda _ctx, _ref: None)}, notified=True)
    assert worker.run_once() is False  # the first look, a transaction: nothing is due
    return worker


def test_an_idle_worker_runs_no_statement_until_another_process_commits(
    core: Core, statements: list[str]
) -> None:
    worker = _idle_worker(core)
    statements.clear()

    assert [worker.run_once() for _ in range(5)] == [False] * 5
    assert statements == []

    other = _other_process(core)
    try:
        with UnitOfWork(other) as uow:
            queue.enqueue(uow.conn, LATER, "r1", core.ctx.clock.now() + timedelta(hours=1))
            uow.commit()
    finally:
        other.dispose()

    assert worker.run_once() is False  # looked (the job is not due yet) and learnt when it is
    assert any(s.lstrip().upper().startswith("UPDATE JOBS") for s in statements)
    statements.clear()
    assert worker.run_once() is False
    assert statements == []
    worker.release()


def test_an_idle_worker_looks_again_when_a_known_job_comes_due(core: Core, statements: list[str]) -> None:
    with core.ctx.uow() as uow:
        queue.enqueue(uow.conn, LATER, "r1", core.ctx.clock.now() + timedelta(minutes=5))
        uow.commit()
    worker = _idle_worker(core)
    statements.clear()
    assert worker.run_once() is False
    assert statements == []

    core.ctx.clock.offset += timedelta(minutes=5)  # type: ignore[attr-defined]

    assert worker.run_once() is True  # claimed and run: due now
    with core.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(select(jobs.c.status, jobs.c.locked_by).where(jobs.c.kind == LATER)).one()
    assert (row.status, row.locked_by) == ("done", None)
    worker.release()


def test_the_commit_counter_moves_only_when_something_was_written(core: Core) -> None:
    counter = commit_counter(core.ctx.engine)
    assert counter is not None
    read, close = counter
    try:
        before = read()
        with core.ctx.uow() as uow:  # a write transaction that changes nothing
            queue.claim(uow.conn, "w-test", core.ctx.clock.now(), 30)
            uow.commit()
        assert read() == before
        with core.ctx.uow() as uow:
            queue.enqueue(uow.conn, LATER, "r1", core.ctx.clock.now())
            uow.commit()
        assert read() != before
    finally:
        close()
