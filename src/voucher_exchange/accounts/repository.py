"""Account SQL: users and API tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from voucher_exchange.accounts.models import IdentityStatus, Role, User, normalise_name
from voucher_exchange.db.dialect import locked
from voucher_exchange.db.schema import api_tokens, users


def _to_user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        roles=frozenset(Role(r) for r in row.roles.split(",") if r),
        kyc_tier=int(row.kyc_tier),
        legal_name=row.legal_name,
        birth_date=row.birth_date,
        identity_status=IdentityStatus(row.identity_status),
        language=row.language,
    )


def insert_user(
    conn: Connection,
    user_id: str,
    email: str,
    password_hash: str,
    roles: set[Role],
    now: datetime,
    language: str = "ko",
) -> None:
    """Store a new user (the unique e-mail refuses a duplicate)."""
    conn.execute(
        insert(users).values(
            id=user_id,
            email=email,
            password_hash=password_hash,
            roles=",".join(sorted(r.value for r in roles)),
            language=language,
            created_at=now,
        )
    )


def by_email(conn: Connection, email: str) -> tuple[User, str] | None:
    """(user, password hash) for an e-mail."""
    row = conn.execute(select(users).where(users.c.email == email)).first()
    return (_to_user(row), row.password_hash) if row else None


def by_id(conn: Connection, user_id: str, lock: bool = False) -> User | None:
    """A user by id; `lock` takes a row lock (PostgreSQL) to serialise per-seller work."""
    query = select(users).where(users.c.id == user_id)
    row = conn.execute(locked(conn, query) if lock else query).first()
    return _to_user(row) if row else None


def add_token(
    conn: Connection, token_hash: str, user_id: str, now: datetime, expires_at: datetime, kind: str
) -> None:
    """Remember a token by its hash until `expires_at` (or until revoked)."""
    conn.execute(
        insert(api_tokens).values(
            token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at, kind=kind
        )
    )


def by_token(conn: Connection, token_hash: str, now: datetime) -> tuple[User, str, datetime] | None:
    """(user, token kind, expiry) for an unexpired token."""
    row = conn.execute(
        select(users, api_tokens.c.kind, api_tokens.c.expires_at)
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(
            (api_tokens.c.token_hash == token_hash)
            & api_tokens.c.expires_at.is_not(None)
            & (api_tokens.c.expires_at > now)
        )
    ).first()
    return (_to_user(row), row.kind, row.expires_at) if row else None


def extend_token(conn: Connection, token_hash: str, expires_at: datetime) -> None:
    """Push a token's expiry on (never back)."""
    conn.execute(
        update(api_tokens)
        .where((api_tokens.c.token_hash == token_hash) & (api_tokens.c.expires_at < expires_at))
        .values(expires_at=expires_at)
    )


def delete_tokens_of(conn: Connection, user_id: str) -> int:
    """Forget every token of a user (sign out everywhere); how many there were."""
    return int(conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount or 0)


def set_identity(
    conn: Connection,
    user_id: str,
    status: IdentityStatus,
    legal_name: str,
    birth_date: date,
    phone: str,
    reason: str | None,
) -> None:
    """Record the outcome of an identity check."""
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            identity_status=status.value,
            legal_name=legal_name,
            birth_date=birth_date,
            phone=phone,
            identity_reason=reason,
        )
    )


def raise_tier(conn: Connection, user_id: str, tier: int) -> None:
    """Raise the KYC tier (never lowers it)."""
    conn.execute(
        update(users).where((users.c.id == user_id) & (users.c.kyc_tier < tier)).values(kyc_tier=tier)
    )


def set_roles(conn: Connection, user_id: str, roles: set[Role]) -> None:
    """Replace a user's roles."""
    conn.execute(
        update(users).where(users.c.id == user_id).values(roles=",".join(sorted(r.value for r in roles)))
    )


def set_sanctions(conn: Connection, user_id: str, strength: str, match: dict[str, object]) -> None:
    """Record the sanctions screening of the user's legal name."""
    conn.execute(
        update(users).where(users.c.id == user_id).values(sanctions_strength=strength, sanctions_match=match)
    )


def delete_token(conn: Connection, token_hash: str) -> None:
    """Forget a token (log out)."""
    conn.execute(delete(api_tokens).where(api_tokens.c.token_hash == token_hash))


def set_language(conn: Connection, user_id: str, language: str) -> None:
    """The language the user reads (e-mails follow it)."""
    conn.execute(update(users).where(users.c.id == user_id).values(language=language))


def staff(conn: Connection) -> list[User]:
    """Users holding any role, by e-mail."""
    rows = conn.execute(select(users).where(users.c.roles != "").order_by(users.c.email))
    return [_to_user(r) for r in rows]


def same_identity(conn: Connection, user: User) -> list[User]:
    """Other accounts verified as the same person: the same legal name (normalised) and birth date."""
    if user.legal_name is None or user.birth_date is None:
        return []
    rows = conn.execute(
        select(users).where((users.c.birth_date == user.birth_date) & (users.c.id != user.id))
    )
    wanted = normalise_name(user.legal_name)
    return [u for u in map(_to_user, rows) if u.legal_name and normalise_name(u.legal_name) == wanted]
