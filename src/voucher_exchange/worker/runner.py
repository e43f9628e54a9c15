"""Claims jobs and runs them; safe to kill at any moment (leases expire, handlers are idempotent)."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from voucher_exchange import logs
from voucher_exchange.accounts.mail import mail_account, mail_consent_notice
from voucher_exchange.accounts.models import ACCOUNT_MAIL, SELLER_CLEARED
from voucher_exchange.apikeys.mail import mail_key_event
from voucher_exchange.apikeys.models import API_KEY_MAIL
from voucher_exchange.audit import anchoring
from voucher_exchange.context import Context
from voucher_exchange.db import changes, dialect
from voucher_exchange.db.engine import commit_counter
from voucher_exchange.db.retry import is_transient, is_unavailable
from voucher_exchange.errors import ExternalUnavailable
from voucher_exchange.fraud import service as fraud_service
from voucher_exchange.fraud.models import MATCH_REPORT
from voucher_exchange.identity import documents as identity_documents
from voucher_exchange.identity.document_models import PURGE_DOCUMENTS
from voucher_exchange.issuers import guard as issuer_guard
from voucher_exchange.issuers.mail import mail_action as mail_issuer_action
from voucher_exchange.issuers.models import EVALUATE, EVALUATE_NOW, MAIL_ACTION
from voucher_exchange.jobs import queue
from voucher_exchange.jobs.listener import start_listener
from voucher_exchange.jobs.models import Job, backoff_seconds
from voucher_exchange.payouts.models import (
    WAITING_FOR_BANK,
    WAITING_FOR_BANK_WINDOW,
    WAITING_FOR_CLEARANCE,
    WAITING_FOR_FUNDS,
    BankWindowClosed,
    PayoutHeld,
    RailPending,
    TreasuryShort,
)
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.reversals.models import POLL_CHARGEBACKS
from voucher_exchange.risk import service as risk_service
from voucher_exchange.risk.models import PRUNE_WINDOWS
from voucher_exchange.trades import late_payout
from voucher_exchange.trades import lifecycle as trade_lifecycle
from voucher_exchange.trades import pipeline as trade_pipeline
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.batch import BATCH_SUMMARY
from voucher_exchange.trades.models import NOTIFY_TRADE, PAY_COMPENSATION, PROCESS_TRADE
from voucher_exchange.trades.notices import notify_batch, notify_trade
from voucher_exchange.trust.models import CONSENT_NOTICE
from voucher_exchange.webhooks.delivery import deliver, mail_disabled
from voucher_exchange.webhooks.models import DELIVER, MAIL_DISABLED

log = logs.get(__name__)
Handler = Callable[[Context, str], None]
# (context, ref, the facts its enqueuer handed over or None).
PayloadHandler = Callable[[Context, str, dict[str, Any] | None], None]
# A handler that runs `done` (connection, now) in its last transaction, before that commits.
FinishingHandler = Callable[[Context, str, Callable[[Connection, datetime], None]], None]
# (context, refs, a thread pool for outside calls, a lease renewal) → per ref, None or its error.
BatchHandler = Callable[
    [Context, list[str], ThreadPoolExecutor | None, Callable[[Connection, datetime], None]],
    dict[str, Exception | None],
]
# Runs in the transaction that buries the job: (connection, ref, now, attempts).
GiveUp = Callable[[Connection, str, datetime, int], None]
TREASURY_WAIT_SECONDS = 15.0
RAIL_PENDING_WAIT_SECONDS = 15.0
"""A transfer the bank accepted and has not executed yet: ask again this often (same key)."""
CLEARANCE_WAIT_SECONDS = 3600.0
"""A held payout looks again hourly; a new identity check or a sanctions release wakes it at once."""
TRANSIENT_RETRY_SECONDS = 0.05
UNAVAILABLE_RETRY_SECONDS = 0.5
NOTIFIED_POLL_SECONDS = 1.0
MIN_IDLE_SECONDS = 0.02  # a due job another worker holds: do not spin


@dataclass(frozen=True)
class JobKind:
    """How to run one kind of job, what to do when its attempts run out, and whether it recurs.

    A recurring kind (`every` = a settings attribute holding seconds) is put back to run again
    after each success, in the transaction that finishes it: one live job, never lost. A kind
    with `run_many` is taken in batches (`worker_batch_size`): it gets the refs and answers,
    per ref, None (done) or the exception that stopped it. A kind with `run_finishing` is run
    through it: the job is finished (and the next claimed) in the handler's last transaction,
    not in one of its own after it. A kind with `run_payload` is run through it, with the facts
    its job carries (`queue.enqueue`'s payload).
    """

    run: Handler
    gave_up: GiveUp | None = None
    every: str | None = None
    run_many: BatchHandler | None = None
    run_finishing: FinishingHandler | None = None
    run_payload: PayloadHandler | None = None


HANDLERS: dict[str, JobKind] = {
    PROCESS_TRADE: JobKind(
        trade_pipeline.process_trade,
        trade_lifecycle.give_up,
        run_many=trade_pipeline.process_many,
        run_finishing=trade_pipeline.process_trade,
    ),
    NOTIFY_TRADE: JobKind(notify_trade, run_payload=notify_trade),
    BATCH_SUMMARY: JobKind(notify_batch),
    ACCOUNT_MAIL: JobKind(mail_account),
    CONSENT_NOTICE: JobKind(mail_consent_notice),
    API_KEY_MAIL: JobKind(mail_key_event),
    SELLER_CLEARED: JobKind(trade_service.resume_held_payouts_job),
    POLL_CHARGEBACKS: JobKind(reversal_service.poll_job, every="chargeback_poll_seconds"),
    PRUNE_WINDOWS: JobKind(risk_service.prune_windows, every="risk_window_prune_seconds"),
    anchoring.ANCHOR_AUDIT: JobKind(anchoring.anchor_job, every="audit_anchor_seconds"),
    PURGE_DOCUMENTS: JobKind(identity_documents.purge_job, every="identity_document_purge_seconds"),
    EVALUATE: JobKind(issuer_guard.evaluate_job, every="issuer_guard_seconds"),
    EVALUATE_NOW: JobKind(issuer_guard.evaluate_job),
    MAIL_ACTION: JobKind(mail_issuer_action),
    DELIVER: JobKind(deliver),
    MATCH_REPORT: JobKind(fraud_service.match_job),
    MAIL_DISABLED: JobKind(mail_disabled),
    PAY_COMPENSATION: JobKind(late_payout.pay_compensation),
}
RECURRING_REF = "default"


class Worker:
    """One worker identity; run it in one or more threads."""

    def __init__(
        self, ctx: Context, handlers: dict[str, JobKind] | None = None, *, notified: bool | None = None
    ) -> None:
        self.ctx = ctx
        self.id = f"w-{uuid.uuid4().hex[:12]}"
        self.handlers = handlers or HANDLERS
        self._rng = random.Random()  # jitter only; no security role  # noqa: S311
        self._next: list[Job] = []
        self._batch = max(1, ctx.settings.worker_batch_size)
        # The outside calls of a batch run concurrently, one thread each.
        self._calls = ThreadPoolExecutor(self._batch, f"{self.id}-call") if self._batch > 1 else None
        # PostgreSQL: every enqueue NOTIFYs (start_threads listens), so idle workers need not poll fast.
        # SQLite: start_threads hears this process's own enqueues (db/changes.py) and says so.
        self._notified = ctx.engine.dialect.name == "postgresql" if notified is None else notified
        self._due: datetime | None = None
        # SQLite: an idle look for work is skipped while no connection has committed since the
        # last look found nothing, and nothing it knew of has come due (a counter read, no query).
        self._commits = commit_counter(ctx.engine) if self._notified else None
        self._looked_at: int | None = None

    def run_once(self) -> bool:
        """Run the due jobs claimed when the last ones finished, or newly claimed; False when none.

        One job, or a batch of up to `worker_batch_size` jobs of a kind that has `run_many`.
        """
        claimed, self._next = self._next, []
        if not claimed:
            seen = self._commits[0]() if self._commits is not None else None
            if seen is not None and seen == self._looked_at and not self._came_due():
                return False
            with self.ctx.uow() as uow:
                claimed = self._claim(uow.conn, self.ctx.clock.now())
                if not claimed and self._notified:
                    self._due = queue.next_due(uow.conn)
                uow.commit()
            self._looked_at = None if claimed else seen
        if not claimed:
            return False
        if len(claimed) > 1:
            structlog.contextvars.bind_contextvars(job_ids=[j.id for j in claimed])
            try:
                self._next = self._run_batch(claimed)
            finally:
                structlog.contextvars.unbind_contextvars("job_ids")
            return True
        job = claimed[0]
        structlog.contextvars.bind_contextvars(request_id=job.request_id, job_id=job.id, ref=job.ref)
        try:
            self._next = self._run(job)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "job_id", "ref")
        return True

    def _came_due(self) -> bool:
        return self._due is not None and self.ctx.clock.now() >= self._due

    def _claim(self, conn: Connection, now: datetime) -> list[Job]:
        """The next due job, and, if its kind runs in batches, more due jobs of that kind."""
        return self._and_more(conn, queue.claim(conn, self.id, now, self.ctx.settings.job_lease_seconds), now)

    def _and_more(self, conn: Connection, job: Job | None, now: datetime) -> list[Job]:
        """`job` (just claimed), and, if its kind runs in batches, more due jobs of that kind."""
        if job is None:
            return []
        if self._batch == 1 or self.handlers[job.kind].run_many is None:
            return [job]
        lease = self.ctx.settings.job_lease_seconds
        return [job, *queue.claim_more(conn, self.id, now, lease, job.kind, self._batch - 1)]

    def release(self) -> None:
        """Put back jobs claimed ahead (on stop), so they run now elsewhere, not after their lease."""
        claimed, self._next = self._next, []
        if claimed:
            with self.ctx.uow() as uow:
                for job in claimed:
                    queue.release(uow.conn, job, self.id, self.ctx.clock.now())
                uow.commit()
        if self._calls is not None:
            self._calls.shutdown()
        if self._commits is not None:
            self._commits[1]()
            self._commits = None

    def _run(self, job: Job) -> list[Job]:
        """Run the job; on success finish it and claim the next in the same transaction (the
        handler's last one, for a kind with `run_finishing`)."""
        kind = self.handlers[job.kind]
        following: list[Job] | None = None

        def done(conn: Connection, now: datetime) -> None:
            nonlocal following
            following = self._finish_in(conn, [job], now)

        try:
            if kind.run_finishing is not None:
                kind.run_finishing(self.ctx, job.ref, done)
            elif kind.run_payload is not None:
                kind.run_payload(self.ctx, job.ref, job.payload)
            else:
                kind.run(self.ctx, job.ref)
        except Exception as exc:  # noqa: BLE001 - a handler's failure is the job's; `_failed` reports it
            self._failed(job, exc)
            return []
        # Without an exception `done`'s transaction committed; if it never ran, finish here.
        return self._finish([job]) if following is None else following

    def _run_batch(self, batch: list[Job]) -> list[Job]:
        """Run a batch of jobs of one kind; finish the done ones and claim what follows, together."""
        run_many = self.handlers[batch[0].kind].run_many
        assert run_many is not None
        lease = self.ctx.settings.job_lease_seconds

        def renew(conn: Connection, now: datetime) -> None:
            queue.renew(conn, batch, self.id, now, lease)

        results = run_many(self.ctx, [j.ref for j in batch], self._calls, renew)
        done = []
        for job in batch:
            error = results.get(job.ref)
            if error is None:
                done.append(job)
                continue
            bound = {"request_id": job.request_id, "job_id": job.id, "ref": job.ref}
            with structlog.contextvars.bound_contextvars(**bound):
                self._failed(job, error)
        return self._finish(done)

    def _finish(self, done: list[Job]) -> list[Job]:
        """Finish jobs that succeeded (a recurring one is put back) and claim the next, in one transaction."""
        with self.ctx.uow() as uow:
            following = self._finish_in(uow.conn, done, self.ctx.clock.now())
            uow.commit()
        return following

    def _finish_in(self, conn: Connection, done: list[Job], now: datetime) -> list[Job]:
        """`_finish` in the caller's transaction: what it claimed, valid once that commits."""
        finished = []
        for job in done:
            every = self.handlers[job.kind].every
            if every is None:
                finished.append(job)
            else:
                delay = float(getattr(self.ctx.settings, every))
                queue.retry_later(conn, job, self.id, now, delay, "", reset=True)
        lease = self.ctx.settings.job_lease_seconds
        return self._and_more(conn, queue.finish_and_claim(conn, finished, self.id, now, lease), now)

    def _failed(self, job: Job, exc: Exception) -> None:
        """What a job's failure means: run again soon, wait (for funds, a review), or count an attempt."""
        if is_unavailable(exc):
            # The database restarted or the connection dropped (before or during COMMIT): every
            # step is safe to run again, as after a crash, and the wait is not the job's fault.
            log.info("job_database_unavailable", error=type(exc).__name__)
            self._later(job, UNAVAILABLE_RETRY_SECONDS, "database unavailable")
        elif isinstance(exc, DBAPIError):
            if is_transient(exc):
                # A deadlock or lock timeout: every step is one transaction, so just run it again.
                log.info("job_transient_db_error", error=type(exc.orig).__name__)
                self._later(job, TRANSIENT_RETRY_SECONDS, "transient database error")
            else:
                log.error("job_db_error", kind=job.kind, exc_info=exc)
                self._failed_attempt(job, f"database error: {type(exc.orig).__name__}")
        elif isinstance(exc, TreasuryShort):
            self._later(job, TREASURY_WAIT_SECONDS, WAITING_FOR_FUNDS)
        elif isinstance(exc, BankWindowClosed):
            wait = max((exc.until - self.ctx.clock.now()).total_seconds(), 1.0)
            self._later(job, wait, WAITING_FOR_BANK_WINDOW)
        elif isinstance(exc, RailPending):
            self._later(job, RAIL_PENDING_WAIT_SECONDS, WAITING_FOR_BANK)
        elif isinstance(exc, PayoutHeld):
            log.info("payout_held", payout_id=exc.payout_id, why=exc.why)
            self._later(job, CLEARANCE_WAIT_SECONDS, WAITING_FOR_CLEARANCE)
        elif isinstance(exc, ExternalUnavailable):
            self._failed_attempt(job, f"outside service unavailable: {exc}")
        else:  # a handler bug must not kill the worker
            log.error("job_error", kind=job.kind, exc_info=exc)
            self._failed_attempt(job, f"{type(exc).__name__}: {exc}")

    def _later(self, job: Job, delay_seconds: float, error: str) -> None:
        with self.ctx.uow() as uow:
            queue.retry_later(uow.conn, job, self.id, self.ctx.clock.now(), delay_seconds, error)
            uow.commit()

    def _failed_attempt(self, job: Job, error: str) -> None:
        if job.attempts < self.ctx.settings.job_max_attempts:
            delay = backoff_seconds(job.attempts, self._rng)
            why = error.split(":", 1)[0]  # the kind of failure; never the details (no secrets in logs)
            log.info(
                "job_retry", job_id=job.id, ref=job.ref, attempt=job.attempts, delay=round(delay, 2), why=why
            )
            self._later(job, delay, error)
            return
        log.warning("job_dead", job_id=job.id, ref=job.ref, attempts=job.attempts)
        gave_up = self.handlers[job.kind].gave_up
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            if gave_up is not None:
                gave_up(uow.conn, job.ref, now, job.attempts)
            queue.bury(uow.conn, job, self.id, now, error)
            uow.commit()

    def _idle_seconds(self) -> float:
        """How long to sleep with nothing to do.

        Where enqueueing notifies workers (PostgreSQL LISTEN/NOTIFY), until the next delayed
        job comes due or a lease runs out, at most NOTIFIED_POLL_SECONDS (a safety net for a
        lost notification): an idle worker costs about one transaction a second, not five.
        """
        poll = self.ctx.settings.worker_poll_seconds
        if not self._notified:
            return poll
        if self._due is None:
            return max(poll, NOTIFIED_POLL_SECONDS)
        until_due = (self._due - self.ctx.clock.now()).total_seconds()
        return min(max(until_due, MIN_IDLE_SECONDS), max(poll, NOTIFIED_POLL_SECONDS))

    def run_until(self, stop: threading.Event) -> None:
        """Work until `stop` is set; sleep on the job signal when idle."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:  # e.g. database briefly unavailable
                if is_unavailable(exc):  # leased jobs run again when their lease ends
                    log.warning("worker_database_unavailable", error=type(exc).__name__)
                else:
                    log.exception("worker_loop_error")
                busy = False
            if not busy:
                self.ctx.job_signal.wait(self._idle_seconds())
                self.ctx.job_signal.clear()
        try:
            self.release()
        except Exception:  # the lease runs out instead
            log.exception("worker_release_error")


def start_threads(ctx: Context, count: int, stop: threading.Event) -> list[threading.Thread]:
    """Run `count` worker threads in this process, woken by NOTIFY on PostgreSQL."""
    threads = []
    schedule_recurring(ctx)
    notified = start_listener(ctx.settings.database_url, ctx.wake_workers, stop) is not None
    if not notified:
        # SQLite: every enqueue committed in this process wakes these workers at once, so idle
        # they poll only as a safety net (NOTIFIED_POLL_SECONDS), for jobs another process queued.
        notified = _hear_own_enqueues(ctx, stop)
    for i in range(count):
        worker = Worker(ctx, notified=notified)
        thread = threading.Thread(target=worker.run_until, args=(stop,), name=f"worker-{i}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def _hear_own_enqueues(ctx: Context, stop: threading.Event) -> bool:
    key = dialect.notified(queue.CHANNEL)

    def heard(keys: frozenset[str]) -> None:
        if stop.is_set():
            unlisten()
        elif key in keys:
            ctx.wake_workers()

    unlisten = changes.listen(heard)
    return True


def schedule_recurring(ctx: Context) -> None:
    """Make sure every recurring job exists (one live job per kind; starting many workers is safe)."""
    with ctx.uow() as uow:
        for kind, spec in HANDLERS.items():
            if spec.every is not None:
                queue.enqueue(uow.conn, kind, RECURRING_REF, ctx.clock.now())
        uow.commit()
