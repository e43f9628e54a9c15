"""Master-key rotation: re-encrypt every secret and recompute every fingerprint, in one transaction.

Run it with the API and workers stopped: they hold the old key in memory. Each table is
re-encrypted by the package that owns it (trades: voucher codes and their claims; payouts:
bank account numbers); this use case only orders them and reports progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

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
