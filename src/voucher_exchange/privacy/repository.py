"""Erasure SQL: what a person still has in flight, and the rows that are forgotten."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, exists, func, select, update

from voucher_exchange.db.schema import (
    account_tokens,
    api_tokens,
    idempotency_keys,
    payout_destinations,
    payouts,
    staff_totp,
    totp_recovery_codes,
    trades,
    users,
)

PASSWORD_ERASED = "!erased"  # noqa: S105  # never a valid argon2 hash: no password matches it


def open_trades(conn: Connection, user_id: str, terminal: frozenset[str]) -> int:
    """How many of the person's trades are not finished."""
    query = select(func.count()).where((trades.c.user_id == user_id) & trades.c.status.not_in(terminal))
    return int(conn.execute(query).scalar_one())


def unsettled_payouts(conn: Connection, user_id: str, settled: frozenset[str]) -> int:
    """How many payouts to the person are not settled."""
    query = select(func.count()).where((payouts.c.user_id == user_id) & payouts.c.status.not_in(settled))
    return int(conn.execute(query).scalar_one())


def erase(conn: Connection, user_id: str, tombstone: str, now: datetime) -> dict[str, int]:
    """Forget the person's credentials and unused bank accounts; how many rows of each went."""
    used = exists().where(trades.c.payout_destination_id == payout_destinations.c.id) | exists().where(
        payouts.c.destination_id == payout_destinations.c.id
    )
    erased = {
        "sessions": conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount,
        "links": conn.execute(delete(account_tokens).where(account_tokens.c.user_id == user_id)).rowcount,
        "recovery_codes": conn.execute(
            delete(totp_recovery_codes).where(totp_recovery_codes.c.user_id == user_id)
        ).rowcount,
        "two_factor": conn.execute(delete(staff_totp).where(staff_totp.c.user_id == user_id)).rowcount,
        "idempotency_keys": conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.user_id == user_id)
        ).rowcount,
        "payout_destinations": conn.execute(
            delete(payout_destinations).where((payout_destinations.c.user_id == user_id) & ~used)
        ).rowcount,
    }
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            email=tombstone,
            password_hash=PASSWORD_ERASED,
            roles="",
            email_verified_at=None,
            deleted_at=now,
        )
    )
    return {name: int(count or 0) for name, count in erased.items()}
