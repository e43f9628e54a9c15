"""The daily reconciliation: a counterparty's statement against our books, stored as a run.

Issuer: the settlement file's redemptions against the trades secured that day, each
with the value its `trade:<id>` transfers put into inventory (face value = payout + fee).
Rail: the bank statement's debits and returns against the payouts settled that day,
each with its `payout:<id>` posted (executed) or voided (refused) transfer.
Nothing here corrects anything: a difference is reported; a correction is a new ledger
transfer made by whoever owns that money, never an edit.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.audit import service as audit
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
from voucher_exchange.reconcile.statements import Source, parse

_CHUNK = 200
_MAX_PER_REFERENCE = 50
INVENTORY_PREFIX = "inventory:"


@dataclass(frozen=True)
class Statement:
    """A statement file as the operator gave it."""

    source: Source
    day: date
    name: str
    text: str


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
    theirs = parse(statement.source, statement.text, statement.day)
    start, end = day_bounds(statement.day)
    read = issuer_movements if statement.source is Source.ISSUER else rail_movements
    ours = read(conn, start - tolerance, end + tolerance)
    return match(theirs, ours, statement.day, tolerance)


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
    """Reconcile a statement, store the run and audit it; returns the run and every result."""
    found = reconcile(conn, statement, tolerance)
    new = NewRun(
        source=statement.source,
        statement_date=statement.day,
        file_name=statement.name,
        file_sha256=hashlib.sha256(statement.text.encode()).hexdigest(),
        tolerance_seconds=int(tolerance.total_seconds()),
        matched=found.count(Bucket.MATCHED),
        missing_ours=found.count(Bucket.MISSING_OURS),
        missing_theirs=found.count(Bucket.MISSING_THEIRS),
        mismatched=found.count(Bucket.MISMATCHED),
        unmatched=unmatched_lines(found),
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
    stored = reconcile_repo.run(conn, run_id)
    assert stored is not None  # inserted above, same transaction
    return stored, list(found.results)


def recent_runs(conn: Connection, limit: int = 30) -> list[StoredRun]:
    """The newest runs first."""
    return reconcile_repo.recent_runs(conn, limit)
