"""Reconciliation SQL: the stored runs (`reconciliation_runs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from voucher_exchange.db.schema import reconciliation_runs
from voucher_exchange.reconcile.models import NewRun, StoredRun
from voucher_exchange.reconcile.statements import Source


def insert_run(conn: Connection, run: NewRun, now: datetime) -> int:
    """Store one run; returns its id."""
    new_id = conn.execute(
        insert(reconciliation_runs)
        .values(
            source=run.source.value,
            statement_date=run.statement_date,
            file_name=run.file_name[:200],
            file_sha256=run.file_sha256,
            tolerance_seconds=run.tolerance_seconds,
            matched=run.matched,
            missing_ours=run.missing_ours,
            missing_theirs=run.missing_theirs,
            mismatched=run.mismatched,
            unmatched=run.unmatched,
            run_by=run.run_by,
            created_at=now,
        )
        .returning(reconciliation_runs.c.id)
    ).scalar_one()
    return int(new_id)


def _run(row: Any) -> StoredRun:
    return StoredRun(
        id=int(row.id),
        source=Source(row.source),
        statement_date=row.statement_date,
        file_name=row.file_name,
        file_sha256=row.file_sha256,
        tolerance_seconds=int(row.tolerance_seconds),
        matched=int(row.matched),
        missing_ours=int(row.missing_ours),
        missing_theirs=int(row.missing_theirs),
        mismatched=int(row.mismatched),
        unmatched=list(row.unmatched),
        run_by=row.run_by,
        created_at=row.created_at,
    )


def recent_runs(conn: Connection, limit: int, offset: int = 0) -> list[StoredRun]:
    """The newest runs first, `offset` runs skipped."""
    rows = conn.execute(
        select(reconciliation_runs).order_by(reconciliation_runs.c.id.desc()).limit(limit).offset(offset)
    )
    return [_run(r) for r in rows]


def count_runs(conn: Connection) -> int:
    """How many runs are stored."""
    return int(conn.execute(select(func.count()).select_from(reconciliation_runs)).scalar_one())


def run(conn: Connection, run_id: int) -> StoredRun | None:
    """One run, or None."""
    row = conn.execute(select(reconciliation_runs).where(reconciliation_runs.c.id == run_id)).first()
    return None if row is None else _run(row)
