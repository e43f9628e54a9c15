"""Account SQL: users and API tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, insert, select, tuple_, update

from voucher_exchange.accounts import role_request_repository, totp_repository
from voucher_exchange.accounts.models import (
    IdentityCheck,
    IdentityStatus,
    LinkPurpose,
    Role,
    User,
    normalise_name,
)
from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import account_tokens, api_tokens, identity_checks, person_links, users

PASSWORD_ERASED = "!erased"  # noqa: S105  # never a valid argon2 hash: no password matches it


def user_from(row: Any) -> User:
    """The user in a row that holds the `users` columns (alone, or beside another table's)."""
    return User(
        id=row.id,
        email=row.email,
        roles=frozenset(Role(r) for r in row.roles.split(",") if r),
        kyc_tier=int(row.kyc_tier),
        legal_name=row.legal_name,
        birth_date=row.birth_date,
        identity_status=IdentityStatus(row.identity_status),
        language=row.language,
        email_verified=row.email_verified_at is not None,
        password_generation=row.password_changed_at.isoformat() if row.password_changed_at else "-",
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
    return (user_from(row), row.password_hash) if row else None


def by_id(conn: Connection, user_id: str, lock: bool = False) -> User | None:
    """A user by id; `lock` takes a row lock (PostgreSQL) to serialise per-seller work."""
    row = conn.execute(_BY_ID_LOCKED if lock else _BY_ID, {"id": user_id}).first()
    return user_from(row) if row else None


# Built once (SQLAlchemy then only binds values); FOR UPDATE is rendered only on PostgreSQL.
_BY_ID = select(users).where(users.c.id == bindparam("id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()


def add_token(
    conn: Connection,
    token_hash: str,
    user_id: str,
    now: datetime,
    expires_at: datetime,
    kind: str,
    second_factor: bool = False,
    client_ip: str | None = None,
) -> None:
    """Remember a token by its hash until `expires_at` (or until revoked), with the address it
    was signed in from."""
    conn.execute(
        insert(api_tokens).values(
            token_hash=token_hash,
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
            kind=kind,
            second_factor=second_factor,
            client_ip=client_ip[:64] if client_ip else None,
        )
    )


def session_addresses_of(conn: Connection, user_id: str) -> set[str]:
    """The client addresses a user's sessions and API tokens were signed in from (ended ones are
    deleted; one past its expiry but not yet swept still counts)."""
    rows = conn.execute(
        select(api_tokens.c.client_ip)
        .distinct()
        .where((api_tokens.c.user_id == user_id) & api_tokens.c.client_ip.is_not(None))
    )
    return {r[0] for r in rows}


@dataclass(frozen=True)
class Token:
    """An unexpired token's user, kind, expiry and whether it passed the second factor."""

    user: User
    kind: str
    expires_at: datetime
    second_factor: bool


def by_token(conn: Connection, token_hash: str, now: datetime) -> Token | None:
    """The user and details of an unexpired token."""
    row = conn.execute(_BY_TOKEN, {"token_hash": token_hash, "now": now}).first()
    return Token(user_from(row), row.kind, row.expires_at, bool(row.second_factor)) if row else None


def token_live(conn: Connection, token_hash: str, now: datetime) -> bool:
    """True while the token exists and has not expired."""
    return by_token(conn, token_hash, now) is not None


def pass_second_factor(conn: Connection, token_hash: str, user_id: str) -> bool:
    """Record that this token's holder gave a right two-factor code (the session that enrolled)."""
    result = conn.execute(
        update(api_tokens)
        .where((api_tokens.c.token_hash == token_hash) & (api_tokens.c.user_id == user_id))
        .values(second_factor=True)
    )
    return bool(result.rowcount)


# Built once: every authenticated request runs it (SQLAlchemy then only binds values).
_BY_TOKEN = (
    select(users, api_tokens.c.kind, api_tokens.c.expires_at, api_tokens.c.second_factor)
    .join(api_tokens, api_tokens.c.user_id == users.c.id)
    .where(
        (api_tokens.c.token_hash == bindparam("token_hash"))
        & api_tokens.c.expires_at.is_not(None)
        & (api_tokens.c.expires_at > bindparam("now", type_=api_tokens.c.expires_at.type))
    )
)


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


# Whether the account is live (not erased nor closed), as columns of a caller's own SELECT of
# `users` (`is_live` reads them back): lock the row with it to serialise with its deletion.
LIVE_COLUMNS = (users.c.deleted_at, users.c.closed_at)


def is_live(row: Any) -> bool:
    """The account read with `LIVE_COLUMNS` (None: no such account) is live."""
    return row is not None and row.deleted_at is None and row.closed_at is None


def set_tier(conn: Connection, user_id: str, tier: int) -> None:
    """Set the KYC tier (after an identity change: it may go down)."""
    conn.execute(update(users).where(users.c.id == user_id).values(kyc_tier=tier))


def add_identity_check(conn: Connection, check: IdentityCheck) -> None:
    """Keep one identity check of a person (the history; `users` holds the latest outcome)."""
    conn.execute(insert(identity_checks).values(**{**asdict(check), "status": check.status.value}))


def identity_checks_of(conn: Connection, user_id: str) -> list[IdentityCheck]:
    """A person's identity checks, oldest first."""
    c = identity_checks.c
    rows = conn.execute(select(identity_checks).where(c.user_id == user_id).order_by(c.checked_at, c.id))
    return [
        IdentityCheck(
            **{**r._mapping, "status": IdentityStatus(r.status), "name_changed": bool(r.name_changed)}
        )
        for r in rows
    ]


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


def set_nationality(conn: Connection, user_id: str, nationality: str) -> None:
    """Record the nationality the identity check gave (ISO 3166 alpha-2)."""
    conn.execute(update(users).where(users.c.id == user_id).values(nationality=nationality))


def delete_token(conn: Connection, token_hash: str) -> None:
    """Forget a token (log out)."""
    conn.execute(delete(api_tokens).where(api_tokens.c.token_hash == token_hash))


def set_language(conn: Connection, user_id: str, language: str) -> None:
    """The language the user reads (e-mails follow it)."""
    conn.execute(update(users).where(users.c.id == user_id).values(language=language))


def staff(conn: Connection) -> list[User]:
    """Users holding any role, by e-mail."""
    rows = conn.execute(select(users).where(users.c.roles != "").order_by(users.c.email))
    return [user_from(r) for r in rows]


@dataclass(frozen=True)
class Link:
    """A single-use link mailed to an account."""

    token_hash: str
    user_id: str
    purpose: LinkPurpose
    email: str
    token_enc: bytes | None
    expires_at: datetime
    used_at: datetime | None


def add_link(
    conn: Connection,
    token_hash: str,
    user_id: str,
    purpose: LinkPurpose,
    email: str,
    token_enc: bytes,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Remember a mailed link by its keyed fingerprint (the token encrypted until mailed)."""
    conn.execute(
        insert(account_tokens).values(
            token_hash=token_hash,
            user_id=user_id,
            purpose=purpose.value,
            email=email,
            token_enc=token_enc,
            created_at=now,
            expires_at=expires_at,
        )
    )


def link(conn: Connection, token_hash: str) -> Link | None:
    """A mailed link by its fingerprint (used or not)."""
    row = conn.execute(select(account_tokens).where(account_tokens.c.token_hash == token_hash)).first()
    if row is None:
        return None
    return Link(
        row.token_hash,
        row.user_id,
        LinkPurpose(row.purpose),
        row.email,
        row.token_enc,
        row.expires_at,
        row.used_at,
    )


def link_by_prefix(conn: Connection, prefix: str) -> Link | None:
    """A mailed link by the start of its fingerprint (what a mail job's ref holds)."""
    row = conn.execute(
        select(account_tokens.c.token_hash).where(
            account_tokens.c.token_hash.startswith(prefix, autoescape=True)
        )
    ).first()
    return link(conn, row.token_hash) if row else None


def forget_link_token(conn: Connection, token_hash: str) -> None:
    """The link was mailed: its token is no longer kept, even encrypted."""
    conn.execute(
        update(account_tokens).where(account_tokens.c.token_hash == token_hash).values(token_enc=None)
    )


def use_link(conn: Connection, token_hash: str, purpose: LinkPurpose, now: datetime) -> bool:
    """Spend a link once: True for the one caller that found it unused and unexpired."""
    result = conn.execute(
        update(account_tokens)
        .where(
            (account_tokens.c.token_hash == token_hash)
            & (account_tokens.c.purpose == purpose.value)
            & account_tokens.c.used_at.is_(None)
            & (account_tokens.c.expires_at > now)
        )
        .values(used_at=now, token_enc=None)
    )
    return bool(result.rowcount)


def void_links(conn: Connection, user_id: str, purpose: LinkPurpose, now: datetime) -> None:
    """Spend every open link of one purpose (a newer one, or the change it was for, replaces them)."""
    conn.execute(
        update(account_tokens)
        .where(
            (account_tokens.c.user_id == user_id)
            & (account_tokens.c.purpose == purpose.value)
            & account_tokens.c.used_at.is_(None)
        )
        .values(used_at=now, token_enc=None)
    )


def set_password(conn: Connection, user_id: str, password_hash: str, now: datetime) -> None:
    """Replace the password hash; a new password generation starts (old lockouts lapse)."""
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, password_changed_at=now)
    )


def password_hash_of(conn: Connection, user_id: str) -> str | None:
    """The stored hash (None for an erased account)."""
    row = conn.execute(
        select(users.c.password_hash).where((users.c.id == user_id) & users.c.deleted_at.is_(None))
    ).first()
    return str(row.password_hash) if row else None


def mark_verified(conn: Connection, user_id: str, email: str, now: datetime) -> bool:
    """Record that the owner reads mail at `email`; the account's e-mail becomes it."""
    result = conn.execute(
        update(users)
        .where((users.c.id == user_id) & users.c.deleted_at.is_(None) & users.c.closed_at.is_(None))
        .values(email=email, email_verified_at=now)
    )
    return bool(result.rowcount)


def delete_tokens_except(conn: Connection, user_id: str, keep_hash: str) -> int:
    """Forget every token of a user but one (sign out the other sessions); how many."""
    return int(
        conn.execute(
            delete(api_tokens).where(
                (api_tokens.c.user_id == user_id) & (api_tokens.c.token_hash != keep_hash)
            )
        ).rowcount
        or 0
    )


def same_identity(conn: Connection, user: User) -> list[User]:
    """Other accounts verified as the same person: the same legal name (normalised) and birth date."""
    if user.legal_name is None or user.birth_date is None:
        return []
    rows = conn.execute(
        select(users).where((users.c.birth_date == user.birth_date) & (users.c.id != user.id))
    )
    wanted = normalise_name(user.legal_name)
    return [u for u in map(user_from, rows) if u.legal_name and normalise_name(u.legal_name) == wanted]


def _forget_credentials(conn: Connection, user_id: str, tombstone: str) -> dict[str, Any]:
    """Sessions, links and two-factor go; role requests name the tombstone. How many rows of each."""
    gone = {
        "sessions": conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount,
        "links": conn.execute(delete(account_tokens).where(account_tokens.c.user_id == user_id)).rowcount,
        **totp_repository.forget(conn, user_id),
    }
    role_request_repository.forget_email(conn, user_id, tombstone)
    return gone


def erase(conn: Connection, user_id: str, tombstone: str, now: datetime) -> dict[str, int]:
    """Forget a person's credentials (sessions, links, two-factor) and tombstone their row.

    What identity and AML retention need stays (docs/privacy.md); how many rows of each went.
    """
    erased = _forget_credentials(conn, user_id, tombstone)
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


def close_login(conn: Connection, user_id: str, tombstone: str, now: datetime) -> dict[str, int]:
    """Close a person's login and keep their record: sessions, links and two-factor go, the
    e-mail becomes a tombstone (the address may sign up again) and no password matches."""
    closed = _forget_credentials(conn, user_id, tombstone)
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(email=tombstone, password_hash=PASSWORD_ERASED, roles="", closed_at=now)
    )
    return {name: int(count or 0) for name, count in closed.items()}


def closed_at(conn: Connection, user_id: str) -> datetime | None:
    """When the account's login was closed (None while it is open)."""
    row = conn.execute(select(users.c.closed_at).where(users.c.id == user_id)).first()
    return row.closed_at if row else None


def add_person_link(conn: Connection, user_id: str, kind: str, key: str, now: datetime) -> None:
    """Tie the account to a person's keyed fingerprint (`identity` or `email`); once."""
    insert_ignore(
        conn,
        person_links,
        {"kind": kind, "key": key, "user_id": user_id, "created_at": now},
        ["kind", "key", "user_id"],
    )


def linked_to() -> Select[Any]:
    """The other accounts tied to one (a SELECT of `user_id`s, for the caller to build once and
    combine), bound to `user_id` and `keys`: sharing a (kind, key) fingerprint stored for it, or
    one of `keys` (fingerprints computed now, a list of (kind, key), maybe empty)."""
    pair = tuple_(person_links.c.kind, person_links.c.key)
    user = bindparam("user_id", type_=person_links.c.user_id.type)
    own = select(person_links.c.kind, person_links.c.key).where(person_links.c.user_id == user)
    shared = pair.in_(own) | pair.in_(bindparam("keys", expanding=True))
    return select(person_links.c.user_id).where(shared & (person_links.c.user_id != user))


def verified_identities(conn: Connection) -> list[tuple[str, str, date]]:
    """(user id, legal name, birth date) of every verified identity check, oldest first."""
    c = identity_checks.c
    rows = conn.execute(
        select(c.user_id, c.legal_name, c.birth_date)
        .where(c.status == IdentityStatus.VERIFIED.value)
        .order_by(c.checked_at)
    )
    return [(row.user_id, row.legal_name, row.birth_date) for row in rows]
