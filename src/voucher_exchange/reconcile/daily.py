"""The daily reconciliation: a counterparty's statement against our books, stored as a run.

Issuer: the settlement file's redemptions against the trades secured that day, each
with the value its `trade:<id>` transfers put into inventory (face value = payout + fee).
Rail: the bank statement's debits and returns against the payouts settled that day,
each with its `payout:<id>` posted (executed) or voided (refused) transfer.
Nothing here corrects anything: a difference is reported; a correction is a new ledger
transfer made by whoever owns that money, never an edit.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import Connection

from voucher_exchange.audit import service as audit
from voucher_exchange.issuers import repository as issuer_repo
from voucher_exchange.issuers.models import EVALUATE_NOW
from voucher_exchange.jobs import queue
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import Phase, Transfer
from voucher_exchange.money import Money
from voucher_exchange.payouts.models import PayoutStatus
from voucher_exchange.reconcile import repository as reconcile_repo
from voucher_exchange.reconcile import views
from voucher_exchange.reconcile.matching import (
    Bucket,
    Movement,
    MovementKind,
    Reconciliation,
    Result,
    day_bounds,
    match,
)
from voucher_exchange.reconcile.models import NewRun, StoredRun
from voucher_exchange.reconcile.statements import ReadStatement, Source, read

_CHUNK = 200
# A run keeps at most this many unmatched lines (the counts stay exact; the command prints
# every line): a statement full of strangers must not grow the database by its own size.
UNMATCHED_KEPT = 1000
_MAX_PER_REFERENCE = 50
INVENTORY_PREFIX = "inventory:"


@dataclass(frozen=True)
class Statement:
    """A statement file as the operator gave it: its text, or the open file to read line by line."""

    source: Source
    day: date
    name: str
    content: str | BinaryIO

    def read(self) -> ReadStatement:
        """Its movements, read under the limits (`statements.read`)."""
        content = self.content
        stream = io.BytesIO(content.encode("utf-8")) if isinstance(content, str) else content
        return read(self.source, stream, self.day)


def _transfers(conn: Connection, references: list[str]) -> dict[str, list[Transfer]]:
    found: dict[str, list[Transfer]] = defaultdict(list)
    for i in range(0, len(references), _CHUNK):
        chunk = references[i : i + _CHUNK]
        # A reference has a handful of transfers (credit and fee; pending and post/void):
        # the limit is far above that, and reaching it would mean a silently short answer.
        limit = len(chunk) * _MAX_PER_REFERENCE
        transfers = ledger_repo.transfers(conn, chunk, limit=limit)
        if len(transfers) >= limit:
            raise RuntimeError(f"more than {_MAX_PER_REFERENCE} ledger transfers per reference")
        for transfer in transfers:
            found[transfer.reference].append(transfer)
    return found


def issuer_movements(conn: Connection, start: datetime, end: datetime) -> list[Movement]:
    """Our redemptions in [start, end): each trade's value secured into inventory."""
    secured = views.trades_secured_between(conn, start, end)
    ledger = _transfers(conn, [f"trade:{t.trade_id}" for t in secured])
    movements = []
    for t in secured:
        into_stock = sum(
            x.amount.amount
            for x in ledger[f"trade:{t.trade_id}"]
            if x.phase is Phase.SINGLE and x.debit.startswith(INVENTORY_PREFIX)
        )
        amount = Money(into_stock, t.currency)
        movements.append(
            Movement(t.redemption_ref, MovementKind.REDEMPTION, amount, t.secured_at, f"trade:{t.trade_id}")
        )
    return movements


def rail_movements(conn: Connection, start: datetime, end: datetime) -> list[Movement]:
    """Our payouts settled in [start, end): executed ones as debits, refused ones as returns."""
    settled = views.payouts_settled_between(conn, start, end)
    ledger = _transfers(conn, [f"payout:{p.payout_id}" for p in settled])
    movements = []
    for p in settled:
        executed = p.status is PayoutStatus.EXECUTED
        phase = Phase.POST if executed else Phase.VOID
        booked = sum(x.amount.amount for x in ledger[f"payout:{p.payout_id}"] if x.phase is phase)
        movements.append(
            Movement(
                p.idempotency_key,
                MovementKind.DEBIT if executed else MovementKind.RETURN,
                Money(booked, p.amount.currency),
                p.settled_at,
                f"payout:{p.payout_id}",
            )
        )
    return movements


def reconcile(conn: Connection, statement: Statement, tolerance: timedelta) -> Reconciliation:
    """Match the statement to our books of its day (read-only)."""
    return _reconcile(conn, statement.source, statement.day, statement.read().movements, tolerance)


def _reconcile(
    conn: Connection, source: Source, day: date, theirs: list[Movement], tolerance: timedelta
) -> Reconciliation:
    start, end = day_bounds(day)
    ours_of = issuer_movements if source is Source.ISSUER else rail_movements
    ours = ours_of(conn, start - tolerance, end + tolerance)
    return match(theirs, ours, day, tolerance)


def _side(movement: Movement | None) -> dict[str, Any] | None:
    if movement is None:
        return None
    return {
        "where": movement.where,
        "kind": movement.kind.value,
        "amount": movement.amount.amount,
        "currency": movement.amount.currency,
        "at": movement.at.isoformat(),
    }


def unmatched_lines(found: Reconciliation) -> list[dict[str, Any]]:
    """The results that did not match, as stored with the run."""
    return [
        {
            "bucket": r.bucket.value,
            "reference": r.reference,
            "problems": [p.value for p in r.problems],
            "theirs": _side(r.theirs),
            "ours": _side(r.ours),
        }
        for r in found.unmatched
    ]


def run(
    conn: Connection, statement: Statement, tolerance: timedelta, actor: str, now: datetime
) -> tuple[StoredRun, list[Result]]:
    """Reconcile a statement, store the run and audit it; returns the run and every result.

    A statement refused by its reader (too large, not CSV) raises before anything is stored.
    """
    theirs = statement.read()
    found = _reconcile(conn, statement.source, statement.day, theirs.movements, tolerance)
    new = NewRun(
        source=statement.source,
        statement_date=statement.day,
        file_name=statement.name,
        file_sha256=theirs.sha256,
        tolerance_seconds=int(tolerance.total_seconds()),
        matched=found.count(Bucket.MATCHED),
        missing_ours=found.count(Bucket.MISSING_OURS),
        missing_theirs=found.count(Bucket.MISSING_THEIRS),
        mismatched=found.count(Bucket.MISMATCHED),
        unmatched=unmatched_lines(found)[:UNMATCHED_KEPT],
        run_by=actor,
    )
    run_id = reconcile_repo.insert_run(conn, new, now)
    audit.record(
        conn,
        actor,
        f"reconcile.{statement.source.value}",
        statement.day.isoformat(),
        {
            "run": run_id,
            "file_sha256": new.file_sha256,
            "matched": new.matched,
            "missing_ours": new.missing_ours,
            "missing_theirs": new.missing_theirs,
            "mismatched": new.mismatched,
        },
        now,
    )
    if statement.source is Source.ISSUER:
        _record_settlements(conn, run_id, statement.day, found, tolerance, now)
    stored = reconcile_repo.run(conn, run_id)
    assert stored is not None  # inserted above, same transaction
    return stored, list(found.results)


def settled_by_brand(
    found: Reconciliation, brand_of: dict[str, str], day: date
) -> dict[tuple[str, str], tuple[int, int]]:
    """(brand, currency) → (value we redeemed, value the statement settled of it) for the day.

    Our redemption counts when the statement lists it or it falls on the day (a pair read in the
    margin around the day counts with its line). A line settles at most what we redeemed; a
    line of another kind settles nothing.
    """
    start, end = day_bounds(day)
    totals: dict[tuple[str, str], tuple[int, int]] = {}
    for result in found.results:
        ours, theirs = result.ours, result.theirs
        if ours is None or (theirs is None and not start <= ours.at < end):
            continue
        key = (brand_of.get(ours.where, ""), ours.amount.currency)
        settled = 0
        if theirs is not None and theirs.kind is ours.kind and theirs.amount.currency == ours.amount.currency:
            settled = min(theirs.amount.amount, ours.amount.amount)
        expected_before, settled_before = totals.get(key, (0, 0))
        totals[key] = (expected_before + ours.amount.amount, settled_before + settled)
    return totals


def _record_settlements(
    conn: Connection, run_id: int, day: date, found: Reconciliation, tolerance: timedelta, now: datetime
) -> None:
    """Per brand, what the issuer settled of our redemptions (the issuer guard's shortfall and delay),
    and ask the guard to look again."""
    start, end = day_bounds(day)
    secured = views.trades_secured_between(conn, start - tolerance, end + tolerance)
    brand_of = {f"trade:{t.trade_id}": t.brand_slug for t in secured}
    for (brand, currency), (expected, settled) in sorted(settled_by_brand(found, brand_of, day).items()):
        issuer_repo.record_settlement(conn, run_id, day, brand, currency, expected, settled, now)
    queue.enqueue(conn, EVALUATE_NOW, "statement", now)


def recent_runs(conn: Connection, limit: int = 30) -> list[StoredRun]:
    """The newest runs first."""
    return reconcile_repo.recent_runs(conn, limit)


def stored_run(conn: Connection, run_id: int) -> StoredRun | None:
    """One stored run, or None."""
    return reconcile_repo.run(conn, run_id)


@dataclass(frozen=True)
class RunsPage:
    """One page of stored runs, newest first, each with at most `LINES_PER_RUN` unmatched lines."""

    runs: list[StoredRun]
    number: int
    pages: int
    total: int


RUNS_PER_PAGE = 10
LINES_PER_RUN = 50


def runs_page(conn: Connection, number: int) -> RunsPage:
    """Page `number` (from 1) of the runs; a number past the last gives the last page."""
    total = reconcile_repo.count_runs(conn)
    pages = max(1, -(-total // RUNS_PER_PAGE))
    number = min(max(1, number), pages)
    runs = reconcile_repo.recent_runs(conn, RUNS_PER_PAGE, (number - 1) * RUNS_PER_PAGE)
    return RunsPage(runs, number, pages, total)
