"""A lost database connection: replaced before use, retried only when nothing can have been stored.

On PostgreSQL the server itself ends the connections (`pg_terminate_backend`, what a restart
does to them) at the moments that matter: while the connection waits in the pool, in the
middle of a unit of work, and just before COMMIT. A COMMIT whose answer was lost after the
server stored it cannot be made on demand with a real server, so that case runs a real unit
of work that commits and then reports the loss. The engine's patient connect is tried against
a port nobody listens on.
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from tests.support.core import Core
from tests.support.processes import free_port
from voucher_exchange import idempotency
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.retry import CommitOutcomeUnknown, again_if_lost, is_transient, is_unavailable
from voucher_exchange.db.schema import idempotency_keys, rate_counters
from voucher_exchange.db.uow import UnitOfWork

PG_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", id="pg", marks=pytest.mark.postgres)], indirect=True
)


def _mark(uow: UnitOfWork, subject: str) -> None:
    """The work's one write: a row that is there only if its transaction was stored."""
    uow.conn.execute(
        insert(rate_counters).values(
            name="lost-connection", subject=subject, window_start=func.now(), count=1
        )
    )


def _marks(core: Core, subject: str) -> int:
    with core.ctx.uow(readonly=True) as uow:
        found = uow.conn.execute(
            select(func.count()).select_from(rate_counters).where(rate_counters.c.subject == subject)
        ).scalar_one()
    return int(found)


def _keys(core: Core, user_id: str) -> int:
    with core.ctx.uow(readonly=True) as uow:
        found = uow.conn.execute(
            select(func.count()).select_from(idempotency_keys).where(idempotency_keys.c.user_id == user_id)
        ).scalar_one()
    return int(found)


def _end_every_connection(core: Core) -> int:
    """The server ends every connection to this database, as a restart would; how many it ended."""
    url = core.ctx.engine.url
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
    ) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (url.database,),
        ).fetchone()
    assert ended is not None
    return int(ended[0])


@PG_ONLY
def test_a_pooled_connection_the_server_ended_is_replaced_before_the_next_unit_of_work(core: Core) -> None:
    with core.ctx.uow(readonly=True) as uow:  # puts a connection in the pool
        uow.conn.execute(text("SELECT 1"))
    assert _end_every_connection(core) >= 1
    subject = uuid.uuid4().hex
    with core.ctx.uow() as uow:
        _mark(uow, subject)
        uow.commit()
    assert _marks(core, subject) == 1


@PG_ONLY
def test_a_connection_lost_before_commit_stores_nothing_and_the_work_runs_again(core: Core) -> None:
    user_id, subject = str(uuid.uuid4()), uuid.uuid4().hex
    runs = []

    def work(uow: UnitOfWork) -> idempotency.Result:
        _mark(uow, subject)
        runs.append(subject)
        if len(runs) == 1:  # the server goes away mid-transaction, once
            uow.conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return 201, {"marked": subject}

    for key in ("with-a-key", None):
        runs.clear()
        subject = uuid.uuid4().hex
        answer = idempotency.run(core.ctx, user_id, key, "POST /test", {"n": 1}, work)
        assert answer == (201, {"marked": subject})
        assert len(runs) == 2  # nothing had been stored: running it again is safe
        assert _marks(core, subject) == 1
    assert _keys(core, user_id) == 1


@PG_ONLY
def test_a_connection_lost_at_commit_is_an_unknown_outcome_and_leaves_the_transaction_cleanly(
    core: Core,
) -> None:
    subject = uuid.uuid4().hex
    with pytest.raises(CommitOutcomeUnknown) as lost, core.ctx.uow() as uow:
        _mark(uow, subject)
        _end_every_connection(core)  # ours too: COMMIT goes to a closed connection
        uow.commit()
    assert is_unavailable(lost.value)
    assert isinstance(lost.value.__cause__, OperationalError)
    assert lost.value.__cause__.connection_invalidated
    assert _marks(core, subject) == 0  # here the server never got the COMMIT
    with core.ctx.uow(readonly=True) as uow:  # and the pool serves the next unit of work
        assert uow.conn.execute(text("SELECT 1")).scalar_one() == 1


class _AnswerLostOnce(UnitOfWork):
    """A unit of work whose COMMIT is stored by the server, but whose answer never arrives."""

    lost = False

    def commit(self) -> None:
        super().commit()
        if not _AnswerLostOnce.lost:
            _AnswerLostOnce.lost = True
            raise CommitOutcomeUnknown("the connection was lost during COMMIT")


def _lose_the_first_commit_answer(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    _AnswerLostOnce.lost = False
    engine = core.ctx.engine
    monkeypatch.setattr(core.ctx, "uow", lambda readonly=False: _AnswerLostOnce(engine, readonly=readonly))


def test_a_commit_whose_answer_was_lost_is_answered_from_its_key_and_never_done_twice(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, subject = str(uuid.uuid4()), uuid.uuid4().hex
    runs: list[str] = []

    def work(uow: UnitOfWork) -> idempotency.Result:
        _mark(uow, subject)
        runs.append(subject)
        return 201, {"marked": subject}

    _lose_the_first_commit_answer(core, monkeypatch)
    answer = idempotency.run(core.ctx, user_id, "k-1", "POST /test", {"n": 1}, work)
    assert answer == (201, {"marked": subject})
    assert (len(runs), _marks(core, subject), _keys(core, user_id)) == (1, 1, 1)


def test_without_a_key_a_commit_whose_answer_was_lost_is_not_run_again(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = uuid.uuid4().hex
    runs: list[str] = []

    def work(uow: UnitOfWork) -> idempotency.Result:
        _mark(uow, subject)
        runs.append(subject)
        return 201, {}

    _lose_the_first_commit_answer(core, monkeypatch)
    with pytest.raises(CommitOutcomeUnknown):
        idempotency.run(core.ctx, str(uuid.uuid4()), None, "POST /test", {"n": 1}, work)
    assert (len(runs), _marks(core, subject)) == (1, 1)  # stored once; the caller answers 503


@PG_ONLY
def test_a_step_outside_idempotency_runs_again_only_if_its_connection_was_lost_before_commit(
    core: Core,
) -> None:
    subject, runs = uuid.uuid4().hex, []

    def count_once() -> int:  # as the abuse limits count an attempt: one unit of work
        with core.ctx.uow() as uow:
            _mark(uow, subject)
            runs.append(subject)
            if len(runs) == 1:
                uow.conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
            uow.commit()
        return len(runs)

    assert again_if_lost(count_once) == 2
    assert _marks(core, subject) == 1

    def commit_lost() -> None:
        runs.append("unknown")
        raise CommitOutcomeUnknown("the connection was lost during COMMIT")

    runs.clear()
    with pytest.raises(CommitOutcomeUnknown):
        again_if_lost(commit_lost)
    assert runs == ["unknown"]  # never again: it may have been stored


def _connect_error(url: str, wait: float) -> tuple[BaseException, float]:
    engine = make_engine(url, connect_wait_seconds=wait)
    started = time.monotonic()
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        return exc, time.monotonic() - started
    finally:
        engine.dispose()
    raise AssertionError("connected")


@PG_ONLY
def test_a_new_connection_waits_a_while_for_a_server_that_is_away_and_no_longer(core: Core) -> None:
    error, waited = _connect_error(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/vx", wait=0.6)
    assert 0.55 <= waited < 3.0
    assert is_unavailable(error) and not is_transient(error)
    # A server that answers "no" is not waited for: no such database.
    url = core.ctx.engine.url.set(database=f"vx_missing_{uuid.uuid4().hex[:8]}")
    error, waited = _connect_error(url.render_as_string(hide_password=False), wait=5.0)
    assert waited < 2.0
    assert is_unavailable(error)  # still a 503 to clients, not a 500: the service is unavailable


def test_a_statement_the_server_refuses_is_not_taken_for_an_unavailable_server(core: Core) -> None:
    with pytest.raises(DBAPIError) as missing, core.ctx.uow(readonly=True) as uow:
        uow.conn.execute(text("SELECT * FROM no_such_table"))
    assert not is_unavailable(missing.value) and not is_transient(missing.value)
