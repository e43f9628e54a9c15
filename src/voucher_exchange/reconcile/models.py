"""Reconciliation runs as stored: what was checked, the counts, and the lines that did not match."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from voucher_exchange.reconcile.statements import Source


@dataclass(frozen=True)
class NewRun:
    """A run to store."""

    source: Source
    statement_date: date
    file_name: str
    file_sha256: str
    tolerance_seconds: int
    matched: int
    missing_ours: int
    missing_theirs: int
    mismatched: int
    # One dict per unmatched line: bucket, reference, problems, theirs and ours (amount, time, where).
    unmatched: list[dict[str, Any]]
    run_by: str


@dataclass(frozen=True)
class StoredRun(NewRun):
    """A stored run."""

    id: int
    created_at: datetime

    @property
    def ok(self) -> bool:
        """True when every line matched."""
        return not (self.missing_ours or self.missing_theirs or self.mismatched)
