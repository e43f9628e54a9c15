"""Master-key rotation: re-encrypt every secret and recompute every fingerprint, in one transaction.

Run it with the API and workers stopped: they hold the old key in memory. Each table is
re-encrypted by the package that owns it (trades: voucher codes and their claims; payouts:
bank account numbers); this use case only orders them and reports progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Connection, Engine

from voucher_exchange.audit import service as audit
from voucher_exchange.clock import Clock
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.identity import documents
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades import repository as trade_repo

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RotationSummary:
    """How many rows were re-encrypted."""

    trades: int
    claims: int
    destinations: int
    documents: int = 0


def rotate_master_key(
    engine: Engine,
    old: Vault,
    new: Vault,
    clock: Clock,
    progress: Progress | None = None,
    document_dir: Path | None = None,
) -> RotationSummary:
    """Use case: re-encrypt every secret from `old` to `new` in one transaction, audited as `keys.rotate`.

    Takes the engine, not a context: a context holds one vault, and this moves between two.
    Installing the new key file is the caller's, once this has committed. The ID document files
    under `document_dir` (identity owns them) are re-encrypted too and replaced after the commit.
    """
    with UnitOfWork(engine) as uow:
        summary = rotate(uow.conn, old, new, progress)
        if document_dir is not None:
            summary = replace(summary, documents=documents.reencrypt_files(uow, document_dir, old, new))
        counts = {
            "trades": summary.trades,
            "claims": summary.claims,
            "destinations": summary.destinations,
            "documents": summary.documents,
        }
        audit.record(uow.conn, "cli", "keys.rotate", "master key", counts, clock.now())
        uow.commit()
    return summary


def rotate(conn: Connection, old: Vault, new: Vault, progress: Progress | None = None) -> RotationSummary:
    """Move every secret from `old` to `new`; raises (and the caller rolls back) if any fails to decrypt."""
    total = trade_repo.count_all(conn) + payout_repo.count_destinations(conn)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    trades, claims = trade_repo.reencrypt_vouchers(conn, old, new, step)
    destinations = payout_repo.reencrypt_destinations(conn, old, new, step)
    return RotationSummary(trades, claims, destinations)
