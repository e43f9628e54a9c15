"""Master-key rotation: re-encrypt every secret and recompute every fingerprint, in one transaction.

Run it with the API and workers stopped: they hold the old key in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from voucher_exchange.db.schema import payout_destinations, trades, voucher_claims
from voucher_exchange.security.vault import Vault

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RotationSummary:
    """How many rows were re-encrypted."""

    trades: int
    claims: int
    destinations: int


def rotate(conn: Connection, old: Vault, new: Vault, progress: Progress | None = None) -> RotationSummary:
    """Move every secret from `old` to `new`; raises (and the caller rolls back) if any fails to decrypt."""
    trade_rows = conn.execute(select(trades.c.id, trades.c.brand_slug, trades.c.voucher_enc)).all()
    dest_rows = conn.execute(
        select(
            payout_destinations.c.id,
            payout_destinations.c.bank_code,
            payout_destinations.c.account_number_enc,
        )
    ).all()
    total, done = len(trade_rows) + len(dest_rows), 0
    claims = 0
    for row in trade_rows:
        secret = old.decrypt_json(row.voucher_enc, row.id)
        fingerprint = new.fingerprint(f"voucher:{row.brand_slug}", str(secret["code"]))
        conn.execute(
            update(trades)
            .where(trades.c.id == row.id)
            .values(voucher_enc=new.encrypt_json(secret, row.id), voucher_fingerprint=fingerprint)
        )
        claims += conn.execute(
            update(voucher_claims).where(voucher_claims.c.trade_id == row.id).values(fingerprint=fingerprint)
        ).rowcount
        done += 1
        if progress:
            progress(done, total)
    for row in dest_rows:
        number = old.decrypt(row.account_number_enc, row.id.encode()).decode()
        conn.execute(
            update(payout_destinations)
            .where(payout_destinations.c.id == row.id)
            .values(
                account_number_enc=new.encrypt(number.encode(), row.id.encode()),
                account_fingerprint=new.fingerprint("bank_account", f"{row.bank_code}:{number}"),
            )
        )
        done += 1
        if progress:
            progress(done, total)
    return RotationSummary(len(trade_rows), claims, len(dest_rows))
