"""Two-factor SQL: the staff member's TOTP secret (encrypted) and one-time recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import staff_totp, totp_recovery_codes


def secret(conn: Connection, user_id: str) -> tuple[bytes, bool] | None:
    """(encrypted secret, enrolled) of a user, or None."""
    row = conn.execute(select(staff_totp).where(staff_totp.c.user_id == user_id)).first()
    return (bytes(row.secret_enc), row.enrolled_at is not None) if row else None


def enrolment(conn: Connection, user_id: str) -> tuple[bool, str | None] | None:
    """(enrolled, token hash of the session that began the setup) of a user, or None."""
    row = conn.execute(
        select(staff_totp.c.enrolled_at, staff_totp.c.begun_by).where(staff_totp.c.user_id == user_id)
    ).first()
    return (row.enrolled_at is not None, row.begun_by) if row else None


def begin(conn: Connection, user_id: str, secret_enc: bytes, now: datetime, begun_by: str) -> bool:
    """Store a new unconfirmed secret owned by a session; False when the user already has one."""
    values = {
        "user_id": user_id,
        "secret_enc": secret_enc,
        "created_at": now,
        "last_step": 0,
        "begun_by": begun_by,
    }
    return insert_ignore(conn, staff_totp, values, ["user_id"])


def abandon(conn: Connection, user_id: str, begun_by: str | None) -> bool:
    """Drop an unconfirmed secret, only if the session that began it is still `begun_by`."""
    owner = staff_totp.c.begun_by.is_(None) if begun_by is None else staff_totp.c.begun_by == begun_by
    result = conn.execute(
        delete(staff_totp).where(
            (staff_totp.c.user_id == user_id) & staff_totp.c.enrolled_at.is_(None) & owner
        )
    )
    return bool(result.rowcount)


def start(conn: Connection, user_id: str, secret_enc: bytes, now: datetime) -> None:
    """Replace any unconfirmed secret with one no session owns (the demo and test helpers).

    An enrolled secret is never replaced here.
    """
    conn.execute(
        delete(staff_totp).where((staff_totp.c.user_id == user_id) & staff_totp.c.enrolled_at.is_(None))
    )
    conn.execute(
        insert(staff_totp).values(user_id=user_id, secret_enc=secret_enc, created_at=now, last_step=0)
    )


def use_step(conn: Connection, user_id: str, step: int) -> bool:
    """Spend a time step: True only for a step later than the last one used (no replay)."""
    result = conn.execute(
        update(staff_totp)
        .where((staff_totp.c.user_id == user_id) & (staff_totp.c.last_step < step))
        .values(last_step=step)
    )
    return bool(result.rowcount)


def confirm(
    conn: Connection, user_id: str, begun_by: str | None, now: datetime, code_hashes: list[str]
) -> bool:
    """Mark the unconfirmed secret begun by `begun_by` enrolled and store the recovery codes'
    fingerprints (replacing older ones); False when there is no such secret (confirmed once).
    """
    owner = staff_totp.c.begun_by.is_(None) if begun_by is None else staff_totp.c.begun_by == begun_by
    result = conn.execute(
        update(staff_totp)
        .where((staff_totp.c.user_id == user_id) & staff_totp.c.enrolled_at.is_(None) & owner)
        .values(enrolled_at=now)
    )
    if not result.rowcount:
        return False
    conn.execute(delete(totp_recovery_codes).where(totp_recovery_codes.c.user_id == user_id))
    for code_hash in code_hashes:
        conn.execute(insert(totp_recovery_codes).values(code_hash=code_hash, user_id=user_id))
    return True


def use_recovery_code(conn: Connection, user_id: str, code_hash: str, now: datetime) -> bool:
    """Spend a recovery code once."""
    result = conn.execute(
        update(totp_recovery_codes)
        .where(
            (totp_recovery_codes.c.code_hash == code_hash)
            & (totp_recovery_codes.c.user_id == user_id)
            & totp_recovery_codes.c.used_at.is_(None)
        )
        .values(used_at=now)
    )
    return bool(result.rowcount)


def forget(conn: Connection, user_id: str) -> dict[str, int]:
    """Delete a person's second factor and recovery codes (account erasure)."""
    codes = conn.execute(delete(totp_recovery_codes).where(totp_recovery_codes.c.user_id == user_id)).rowcount
    secret_rows = conn.execute(delete(staff_totp).where(staff_totp.c.user_id == user_id)).rowcount
    return {"recovery_codes": int(codes or 0), "two_factor": int(secret_rows or 0)}
