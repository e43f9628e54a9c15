"""The job queue and dialect helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.conftest import migrated_database_url
from voucher_exchange.db import migrate
from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import jobs, voucher_claims
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.jobs import queue
from voucher_exchange.jobs.models import Job

pytestmark = pytest.mark.both_backends

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Engine]:
    e = make_engine(migrated_database_url(request, backend, tmp_path, "vx_jobs"))
    migrate.upgrade(e)
    yield e
    e.dispose()


def _claim(engine: Engine, worker: str, at: datetime = NOW) -> Job | None:
    with UnitOfWork(engine) as uow:
        job = queue.claim(uow.conn, worker, at, lease_seconds=30)
        uow.commit()
    return job


def _enqueue(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        queue.enqueue(uow.conn, "k", "r1", NOW)
        uow.commit()


def _status(engine: Engine) -> list[tuple[str, str, bool]]:
    with UnitOfWork(engine, readonly=True) as uow:
        rows = uow.conn.execute(select(jobs.c.ref, jobs.c.status, jobs.c.rerun).order_by(jobs.c.id)).all()
    return [(r.ref, r.status, bool(r.rerun)) for r in rows]


def test_insert_ignore_says_whether_it_inserted(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        row = {"fingerprint": "fp", "trade_id": "t1", "created_at": NOW}
        # The claim's trade does not exist here: switch foreign keys off for this transaction only.
        if engine.dialect.name == "sqlite":
            uow.conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        else:
            uow.conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        assert insert_ignore(uow.conn, voucher_claims, row, ["fingerprint"]) is True
        assert insert_ignore(uow.conn, voucher_claims, {**row, "trade_id": "t2"}, ["fingerprint"]) is False
        owner = uow.conn.execute(select(voucher_claims.c.trade_id)).scalar_one()
        assert owner == "t1"


def test_enqueueing_twice_makes_one_job(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        queue.enqueue(uow.conn, "k", "r1", NOW)
        queue.enqueue(uow.conn, "k", "r1", NOW)
        uow.commit()
    assert _status(engine) == [("r1", "queued", False)]


def test_work_enqueued_while_a_job_runs_makes_it_run_again(engine: Engine) -> None:
    _enqueue(engine)
    job = _claim(engine, "w1")
    assert job is not None
    _enqueue(engine)
    assert _status(engine) == [("r1", "running", True)]
    with UnitOfWork(engine) as uow:
        queue.finish(uow.conn, [job], "w1", NOW)
        uow.commit()
    assert _status(engine) == [("r1", "queued", False)]
    again = _claim(engine, "w2")
    assert again is not None and again.id == job.id
    with UnitOfWork(engine) as uow:
        queue.finish(uow.conn, [again], "w2", NOW)
        uow.commit()
    assert _status(engine) == [("r1", "done", False)]


def test_an_expired_lease_lets_another_worker_take_the_job(engine: Engine) -> None:
    _enqueue(engine)
    first = _claim(engine, "w1")
    assert _claim(engine, "w2", NOW + timedelta(seconds=10)) is None
    second = _claim(engine, "w2", NOW + timedelta(seconds=31))
    assert first is not None and second is not None
    assert (second.id, second.attempts) == (first.id, 2)
    with UnitOfWork(engine) as uow:
        queue.finish(uow.conn, [first], "w1", NOW)  # the first worker's late finish is ignored
        uow.commit()
    assert _status(engine) == [("r1", "running", False)]


def test_finishing_and_claiming_together_takes_the_next_job_never_the_finished_one(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        for ref in ("r1", "r2", "r3"):
            queue.enqueue(uow.conn, "k", ref, NOW)
        uow.commit()
    first = _claim(engine, "w1")
    later = NOW + timedelta(seconds=31)  # its lease ran out while it ran: claimable again, by others
    with UnitOfWork(engine) as uow:
        queue.enqueue(uow.conn, "k", "r1", later)  # new work for the running r1: it runs again
        after = queue.finish_and_claim(uow.conn, [first] if first else [], "w1", later, 30)
        uow.commit()
    assert first is not None and after is not None and after.ref == "r2"
    assert _status(engine) == [("r1", "queued", False), ("r2", "running", False), ("r3", "queued", False)]
    with UnitOfWork(engine) as uow:  # nothing to finish: a plain claim (r1 is due again from `later`)
        assert queue.finish_and_claim(uow.conn, [], "w1", later, 30).ref == "r3"  # type: ignore[union-attr]
        uow.commit()
    with UnitOfWork(engine) as uow:
        last = queue.finish_and_claim(uow.conn, [after], "w1", later, 30)
        uow.commit()
    assert last is not None and last.ref == "r1"
    assert _status(engine) == [("r1", "running", False), ("r2", "done", False), ("r3", "running", False)]


def test_retry_later_waits_for_its_time(engine: Engine) -> None:
    _enqueue(engine)
    job = _claim(engine, "w1")
    assert job is not None
    with UnitOfWork(engine) as uow:
        queue.retry_later(uow.conn, job, "w1", NOW, 5.0, "issuer down")
        uow.commit()
    assert _claim(engine, "w1", NOW + timedelta(seconds=4)) is None
    assert _claim(engine, "w1", NOW + timedelta(seconds=5)) is not None


def test_concurrent_workers_never_take_the_same_job(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        for i in range(40):
            queue.enqueue(uow.conn, "k", f"r{i}", NOW)
        uow.commit()
    taken: list[int] = []
    lock = threading.Lock()

    def drain(name: str) -> None:
        while (job := _claim(engine, name)) is not None:
            with lock:
                taken.append(job.id)

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 40
