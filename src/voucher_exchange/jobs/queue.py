"""Job SQL: enqueue in the caller's transaction, claim with a lease, finish or retry."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Connection, Update, bindparam, case, func, select, update

from voucher_exchange.db.dialect import insert_ignore_and_notify
from voucher_exchange.db.schema import jobs
from voucher_exchange.jobs.models import Job, JobStatus

Q, R = JobStatus.QUEUED.value, JobStatus.RUNNING.value
CHANNEL = "vx_jobs"
# Engine execution option: job kinds this deployment has nothing to do for (e.g. the e-mail
# notice with no mail server configured); enqueueing one writes nothing.
SKIP_KINDS = "vx_skip_job_kinds"


def enqueue(
    conn: Connection,
    kind: str,
    ref: str,
    now: datetime,
    delay_seconds: float = 0.0,
    payload: dict[str, Any] | None = None,
) -> None:
    """Ask for `kind` to run on `ref`. At most one live job per (kind, ref).

    If that job is running right now, it is told to run once more, so work enqueued
    while it runs is never lost. A kind in the engine's `SKIP_KINDS` option is not enqueued.
    `payload`: the facts the job needs (JSON-serialisable); the newest enqueue's win, and
    one without facts clears older ones (its handler then reads the newest state itself).
    """
    if kind in conn.get_execution_options().get(SKIP_KINDS, ()):
        return
    key = f"{kind}:{ref}"
    stored = None if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    inserted = insert_ignore_and_notify(
        conn,
        jobs,
        {
            "kind": kind,
            "ref": ref,
            "dedupe_key": key,
            "status": Q,
            "run_at": now + timedelta(seconds=delay_seconds),
            "request_id": structlog.contextvars.get_contextvars().get("request_id"),
            "payload": stored,
            "created_at": now,
            "updated_at": now,
        },
        ["dedupe_key"],
        CHANNEL,
    )
    if not inserted:
        conn.execute(
            update(jobs)
            .where(jobs.c.dedupe_key == key)
            .values(
                rerun=case((jobs.c.status == R, True), else_=jobs.c.rerun),
                # New work makes a job that is backing off due at once.
                run_at=case((jobs.c.status == Q, now), else_=jobs.c.run_at),
                payload=stored,
                updated_at=now,
            )
        )


def _claimable() -> ColumnElement[bool]:
    # Bind names differ from column names: SQLAlchemy keeps those for its own SET binds.
    now = bindparam("at", type_=jobs.c.run_at.type)
    due = (jobs.c.status == Q) & (jobs.c.run_at <= now)
    return due | ((jobs.c.status == R) & (jobs.c.locked_until < now))


def claim(conn: Connection, worker_id: str, now: datetime, lease_seconds: float) -> Job | None:
    """Take the next due job (or one whose worker's lease ran out) for `lease_seconds`.

    One statement: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`;
    workers never wait on each other's claims.
    """
    taken = _take(conn, worker_id, now, lease_seconds, None, 1)
    return taken[0] if taken else None


def claim_more(
    conn: Connection, worker_id: str, now: datetime, lease_seconds: float, kind: str, limit: int
) -> list[Job]:
    """Take up to `limit` more due jobs of one kind (a batch), oldest first; one statement."""
    if limit <= 0:
        return []
    return _take(conn, worker_id, now, lease_seconds, kind, limit)


def _take(
    conn: Connection,
    worker_id: str,
    now: datetime,
    lease_seconds: float,
    kind: str | None,
    limit: int,
) -> list[Job]:
    shape = (conn.dialect.name == "postgresql", kind is not None)
    statement = _TAKE.get(shape)
    if statement is None:
        statement = _TAKE[shape] = _take_statement(*shape)
    params: dict[str, Any] = {
        "at": now,
        "worker": worker_id,
        "lease_ends": now + timedelta(seconds=lease_seconds),
        "how_many": limit,
    }
    if kind is not None:
        params["of_kind"] = kind
    return _jobs(conn.execute(statement, params))


def _jobs(rows: Iterable[Any]) -> list[Job]:
    """The jobs a claim returned, oldest first."""
    taken = [
        Job(
            id=int(r.id),
            kind=r.kind,
            ref=r.ref,
            attempts=int(r.attempts),
            request_id=r.request_id,
            payload=None if r.payload is None else json.loads(r.payload),
        )
        for r in rows
    ]
    return sorted(taken, key=lambda j: j.id)


# Claim statements, built once per (PostgreSQL?, of one kind?): building and cache-keying one
# per call cost more CPU than running it.
_TAKE: dict[tuple[bool, bool], Update] = {}


def _take_statement(row_locks: bool, of_kind: bool, not_finished: bool = False) -> Update:
    where = _claimable()
    if of_kind:
        where = where & (jobs.c.kind == bindparam("of_kind"))
    if not_finished:  # not one this statement finishes (a lease ran out while it ran)
        where = where & jobs.c.id.not_in(bindparam("ids", expanding=True))
    pick = select(jobs.c.id).where(where).order_by(jobs.c.run_at, jobs.c.id).limit(bindparam("how_many"))
    if row_locks:  # `dialect.locked`: FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's writer holds the file
        pick = pick.with_for_update(skip_locked=True)
    return (
        update(jobs)
        .where(jobs.c.id.in_(pick.scalar_subquery()))
        .values(
            status=R,
            locked_by=bindparam("worker"),
            locked_until=bindparam("lease_ends"),
            attempts=jobs.c.attempts + 1,
            rerun=False,
            updated_at=bindparam("at"),
        )
        .returning(jobs.c.id, jobs.c.kind, jobs.c.ref, jobs.c.attempts, jobs.c.request_id, jobs.c.payload)
    )


def renew(conn: Connection, held: list[Job], worker_id: str, now: datetime, lease_seconds: float) -> None:
    """Push out the leases of jobs this worker still holds (a batch that takes a while)."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id.in_([j.id for j in held]) & (jobs.c.locked_by == worker_id) & (jobs.c.status == R))
        .values(locked_until=now + timedelta(seconds=lease_seconds))
    )


def finish(conn: Connection, done: list[Job], worker_id: str, now: datetime) -> None:
    """Done, in one statement — unless more work arrived meanwhile for one: queue it again at once.

    A finished job forgets its payload (a notice's carries an e-mail address: kept no longer than needed).
    """
    if not done:
        return
    conn.execute(_FINISH, {"ids": [j.id for j in done], "worker": worker_id, "at": now})


_FINISH = (
    update(jobs)
    .where(jobs.c.id.in_(bindparam("ids", expanding=True)) & (jobs.c.locked_by == bindparam("worker")))
    .where(jobs.c.status == R)
    .values(
        status=case((jobs.c.rerun, Q), else_=JobStatus.DONE.value),
        dedupe_key=case((jobs.c.rerun, jobs.c.dedupe_key), else_=None),
        payload=case((jobs.c.rerun, jobs.c.payload), else_=None),
        attempts=case((jobs.c.rerun, 0), else_=jobs.c.attempts),
        rerun=False,
        run_at=bindparam("at"),
        locked_by=None,
        locked_until=None,
        updated_at=bindparam("at"),
    )
)


def finish_and_claim(
    conn: Connection, done: list[Job], worker_id: str, now: datetime, lease_seconds: float
) -> Job | None:
    """`finish`, then `claim`. One statement on PostgreSQL (the finish is a data-modifying CTE
    of the claim's UPDATE): the claim does not see the finish, so a job it queued again for new
    work is left for the next claim, and it never takes one of the jobs it finishes."""
    if not done or conn.dialect.name != "postgresql":
        finish(conn, done, worker_id, now)
        return claim(conn, worker_id, now, lease_seconds)
    params = {
        "ids": [j.id for j in done],
        "at": now,
        "worker": worker_id,
        "lease_ends": now + timedelta(seconds=lease_seconds),
        "how_many": 1,
    }
    taken = _jobs(conn.execute(_FINISH_AND_TAKE, params))
    return taken[0] if taken else None


def retry_later(
    conn: Connection,
    job: Job,
    worker_id: str,
    now: datetime,
    delay_seconds: float,
    error: str,
    reset: bool = False,
) -> None:
    """Put the job back to run after `delay_seconds` (`reset`: a recurring job that succeeded)."""
    values: dict[str, object] = {
        "status": Q,
        "run_at": now + timedelta(seconds=delay_seconds),
        "locked_by": None,
        "locked_until": None,
        "last_error": error[:500] or None,
        "updated_at": now,
    }
    if reset:
        values.update(attempts=0, rerun=False)
    conn.execute(
        update(jobs)
        .where((jobs.c.id == job.id) & (jobs.c.locked_by == worker_id) & (jobs.c.status == R))
        .values(values)
    )


def release(conn: Connection, job: Job, worker_id: str, now: datetime) -> None:
    """Give back a job claimed but not started (the worker is stopping): due now, the attempt uncounted."""
    conn.execute(
        update(jobs)
        .where((jobs.c.id == job.id) & (jobs.c.locked_by == worker_id) & (jobs.c.status == R))
        .values(
            status=Q,
            run_at=now,
            locked_by=None,
            locked_until=None,
            attempts=jobs.c.attempts - 1,
            updated_at=now,
        )
    )


def run_waiting_now(conn: Connection, reason: str, now: datetime) -> int:
    """Jobs put back to wait for `reason` run now (e.g. the treasury was funded); how many."""
    result = conn.execute(
        update(jobs)
        .where((jobs.c.status == Q) & (jobs.c.last_error == reason) & (jobs.c.run_at > now))
        .values(run_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)


def bury(conn: Connection, job: Job, worker_id: str, now: datetime, error: str) -> None:
    """Give up on the job: it stays visible as dead for an operator (without its payload: run
    again, it reads what it needs)."""
    conn.execute(
        update(jobs)
        .where((jobs.c.id == job.id) & (jobs.c.locked_by == worker_id))
        .values(
            status=JobStatus.DEAD.value,
            dedupe_key=None,
            payload=None,
            locked_by=None,
            locked_until=None,
            last_error=error[:500],
            updated_at=now,
        )
    )


def next_due(conn: Connection) -> datetime | None:
    """When the next queued job comes due or the next running job's lease runs out, if any."""
    queued = select(func.min(jobs.c.run_at)).where(jobs.c.status == Q).scalar_subquery()
    leased = select(func.min(jobs.c.locked_until)).where(jobs.c.status == R).scalar_subquery()
    row = conn.execute(select(queued.label("queued"), leased.label("leased"))).one()
    times = [t for t in (row.queued, row.leased) if t is not None]
    return min(times) if times else None


def live_refs(conn: Connection, kind: str) -> set[str]:
    """Refs that have a queued or running job of `kind`."""
    rows = conn.execute(select(jobs.c.ref).where((jobs.c.kind == kind) & jobs.c.status.in_([Q, R])))
    return {r.ref for r in rows}


def depth(conn: Connection) -> int:
    """How many jobs wait or run."""
    return int(
        conn.execute(select(func.count()).select_from(jobs).where(jobs.c.status.in_([Q, R]))).scalar_one()
    )


# `finish_and_claim` on PostgreSQL: the finish, then the claim of one job, as one statement.
_FINISH_AND_TAKE = _take_statement(row_locks=True, of_kind=False, not_finished=True).add_cte(
    _FINISH.cte("finished")
)
