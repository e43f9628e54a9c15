"""All SQL on `api_keys`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from voucher_exchange.apikeys.models import ApiKey, Scope
from voucher_exchange.db.schema import api_keys


def _to_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(Scope(s) for s in row.scopes.split()),
        allowed_ips=tuple(row.allowed_ips.split()),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        replaced_by=row.replaced_by,
    )


def add(conn: Connection, key: ApiKey, key_hash: str) -> None:
    """Store a new key (its hash only)."""
    conn.execute(
        insert(api_keys).values(
            id=key.id,
            user_id=key.user_id,
            name=key.name,
            prefix=key.prefix,
            key_hash=key_hash,
            scopes=" ".join(s.value for s in key.scopes),
            allowed_ips=" ".join(key.allowed_ips),
            created_at=key.created_at,
            expires_at=key.expires_at,
        )
    )


# Built once: the hot path only binds the hash.
_BY_HASH = select(api_keys).where(api_keys.c.key_hash == bindparam("key_hash"))


def by_hash(conn: Connection, key_hash: str) -> ApiKey | None:
    """The key with this keyed hash, whatever its state."""
    row = conn.execute(_BY_HASH, {"key_hash": key_hash}).first()
    return _to_key(row) if row else None


def of_user(conn: Connection, user_id: str, key_id: str) -> ApiKey | None:
    """One of the user's keys."""
    row = conn.execute(
        select(api_keys).where((api_keys.c.id == key_id) & (api_keys.c.user_id == user_id))
    ).first()
    return _to_key(row) if row else None


def owner_of(conn: Connection, key_id: str) -> str | None:
    """The id of the account a key belongs to."""
    found: str | None = conn.execute(select(api_keys.c.user_id).where(api_keys.c.id == key_id)).scalar()
    return found


def list_of_user(conn: Connection, user_id: str) -> list[ApiKey]:
    """The user's keys, newest first."""
    rows = conn.execute(
        select(api_keys)
        .where(api_keys.c.user_id == user_id)
        .order_by(api_keys.c.created_at.desc(), api_keys.c.id)
    )
    return [_to_key(row) for row in rows]


def count_active(conn: Connection, user_id: str, now: datetime) -> int:
    """How many of the user's keys still work."""
    found = conn.execute(
        select(func.count())
        .select_from(api_keys)
        .where(
            (api_keys.c.user_id == user_id)
            & api_keys.c.revoked_at.is_(None)
            & (api_keys.c.expires_at.is_(None) | (api_keys.c.expires_at > now))
        )
    ).scalar_one()
    return int(found)


def revoke(conn: Connection, user_id: str, key_id: str, now: datetime) -> bool:
    """Revoke the key now; False when it was already revoked (or is not the user's)."""
    done = conn.execute(
        update(api_keys)
        .where((api_keys.c.id == key_id) & (api_keys.c.user_id == user_id) & api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return done.rowcount == 1


def retire(conn: Connection, key_id: str, successor: str, ends_at: datetime, now: datetime) -> bool:
    """Mark a working key as replaced, working until `ends_at`; False when it was not (any more) rollable."""
    done = conn.execute(
        update(api_keys)
        .where(
            (api_keys.c.id == key_id)
            & api_keys.c.replaced_by.is_(None)
            & api_keys.c.revoked_at.is_(None)
            & (api_keys.c.expires_at.is_(None) | (api_keys.c.expires_at > now))
        )
        .values(replaced_by=successor, expires_at=ends_at)
    )
    return done.rowcount == 1


def touch(conn: Connection, key_id: str, now: datetime, older_than: datetime) -> None:
    """Set last_used_at = now, only if it is unset or older than `older_than` (no write otherwise)."""
    conn.execute(
        update(api_keys)
        .where(
            (api_keys.c.id == key_id)
            & (api_keys.c.last_used_at.is_(None) | (api_keys.c.last_used_at < older_than))
        )
        .values(last_used_at=now)
    )


def erase_of_user(conn: Connection, user_id: str) -> int:
    """Delete every key of the user (account erasure); how many."""
    return conn.execute(delete(api_keys).where(api_keys.c.user_id == user_id)).rowcount
