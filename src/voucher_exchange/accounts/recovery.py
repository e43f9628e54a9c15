"""Links mailed to an account: reset a forgotten password, verify an e-mail address.

A link carries 256 random bits. The database keeps only a keyed fingerprint of it (the
vault's HMAC), plus the token encrypted for the mail job, erased as soon as the mail is
sent. A link works once and expires. Asking for a reset answers the same, after the same
work, whether or not the address has an account.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection

from voucher_exchange.accounts import repository
from voucher_exchange.accounts.models import ACCOUNT_MAIL, LinkPurpose, Notice, RevokeReason, User
from voucher_exchange.accounts.sessions import revoke_other_sessions
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import InvalidInput
from voucher_exchange.jobs import queue
from voucher_exchange.security import password_policy, throttle
from voucher_exchange.security.input_policy import parse_email
from voucher_exchange.security.passwords import hash_password
from voucher_exchange.security.vault import Vault

RESET_LASTS = timedelta(hours=1)
VERIFY_LASTS = timedelta(hours=48)
# A job's ref holds 60 characters: the link is named by the first 192 bits of its fingerprint.
REF_CHARS = 48
LASTS = {
    LinkPurpose.PASSWORD_RESET: RESET_LASTS,
    LinkPurpose.VERIFY_EMAIL: VERIFY_LASTS,
}


def link_expired() -> InvalidInput:
    """The one answer for a link that is unknown, used, expired or of another kind."""
    return InvalidInput("link_expired", "This link has expired or was already used. Ask for a new one.")


def digest(vault: Vault, token: str) -> str:
    """How a mailed link is stored and looked up: a keyed hash, never the token."""
    return vault.fingerprint("account-link", token[:200])


def issue_link(
    conn: Connection, vault: Vault, user_id: str, purpose: LinkPurpose, email: str, now: datetime
) -> None:
    """Create a link and enqueue its e-mail, in the caller's transaction."""
    token = "vxl_" + secrets.token_urlsafe(32)
    token_hash = digest(vault, token)
    sealed = vault.encrypt(token.encode(), token_hash.encode())
    repository.add_link(conn, token_hash, user_id, purpose, email, sealed, now, now + LASTS[purpose])
    queue.enqueue(conn, ACCOUNT_MAIL, f"link:{token_hash[:REF_CHARS]}", now)


def notify(conn: Connection, user_id: str, notice: Notice, now: datetime) -> None:
    """Enqueue a security notice to the account's current address, in the caller's transaction.

    A second notice while the first is still queued or sending makes the job run once more.
    """
    queue.enqueue(conn, ACCOUNT_MAIL, f"notice:{notice.value}:{user_id}", now)


def request_password_reset(ctx: Context, email: str, client_ip: str | None) -> None:
    """Mail a reset link if the address has an account; the caller answers the same either way.

    Throttled per address and per e-mail. An unknown address costs the same work: a token,
    its fingerprint and a job (which sends nothing).
    """
    email = parse_email(email)
    throttle.hit(ctx, *throttle.password_reset(email, client_ip))
    now = ctx.clock.now()
    with ctx.uow() as uow:
        found = repository.by_email(uow.conn, email)
        if found is not None:
            issue_link(uow.conn, ctx.vault, found[0].id, LinkPurpose.PASSWORD_RESET, email, now)
        else:
            digest(ctx.vault, "vxl_" + secrets.token_urlsafe(32))
            queue.enqueue(uow.conn, ACCOUNT_MAIL, f"none:{secrets.token_hex(16)}", now)
        uow.commit()
    ctx.wake_workers()


def _open_link(ctx: Context, token: str, purpose: LinkPurpose) -> tuple[str, User, str]:
    """(fingerprint, owner, address) of a usable link, or `link_expired`."""
    token_hash = digest(ctx.vault, token)
    with ctx.uow(readonly=True) as uow:
        found = repository.link(uow.conn, token_hash)
        owner = repository.by_id(uow.conn, found.user_id) if found else None
    if (
        found is None
        or owner is None
        or found.purpose is not purpose
        or found.used_at is not None
        or found.expires_at <= ctx.clock.now()
    ):
        raise link_expired()
    return token_hash, owner, found.email


def check_reset_link(ctx: Context, token: str) -> None:
    """`link_expired` unless the reset link can still be used (the page says so before typing)."""
    _open_link(ctx, token, LinkPurpose.PASSWORD_RESET)


def reset_password(ctx: Context, token: str, password: str) -> User:
    """Set a new password with a reset link: the link is spent, every session ends.

    The new password generation also lifts any log-in lockout of the account, and following
    the link proves the owner reads the mail, so the address counts as verified.
    """
    token_hash, owner, _ = _open_link(ctx, token, LinkPurpose.PASSWORD_RESET)
    password_policy.check(password, owner.email)
    # Slow on purpose, so outside any transaction.
    password_hash = hash_password(password)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if not repository.use_link(uow.conn, token_hash, LinkPurpose.PASSWORD_RESET, now):
            raise link_expired()
        repository.set_password(uow.conn, owner.id, password_hash, now)
        repository.void_links(uow.conn, owner.id, LinkPurpose.PASSWORD_RESET, now)
        # A pending change of e-mail dies with the old password: it may be the intruder's.
        repository.void_links(uow.conn, owner.id, LinkPurpose.VERIFY_EMAIL, now)
        ended = revoke_other_sessions(uow.conn, owner.id, RevokeReason.PASSWORD_RESET, owner.email, now)
        if not owner.email_verified:
            repository.mark_verified(uow.conn, owner.id, owner.email, now)
        audit.record(uow.conn, owner.email, "account.password_reset", owner.id, {"tokens": ended}, now)
        notify(uow.conn, owner.id, Notice.PASSWORD_CHANGED, now)
        uow.commit()
    ctx.wake_workers()
    return _reload(ctx, owner.id)


def _reload(ctx: Context, user_id: str) -> User:
    with ctx.uow(readonly=True) as uow:
        user = repository.by_id(uow.conn, user_id)
    assert user is not None
    return user


def resend_verification(ctx: Context, user: User) -> None:
    """Mail a fresh verification link (the older ones stop working); throttled per account."""
    if user.email_verified:
        return
    throttle.hit(ctx, (throttle.VERIFY_PER_ACCOUNT, (user.id,)))
    now = ctx.clock.now()
    with ctx.uow() as uow:
        repository.void_links(uow.conn, user.id, LinkPurpose.VERIFY_EMAIL, now)
        issue_link(uow.conn, ctx.vault, user.id, LinkPurpose.VERIFY_EMAIL, user.email, now)
        uow.commit()
    ctx.wake_workers()


def check_verify_link(ctx: Context, token: str) -> None:
    """`link_expired` unless the verification link can still be used."""
    _open_link(ctx, token, LinkPurpose.VERIFY_EMAIL)


def verify_email(ctx: Context, token: str) -> tuple[User, bool]:
    """Spend a verification link: its address becomes the account's, verified.

    Returns the account and whether the address changed (a change of e-mail, not a sign-up's
    confirmation): following such a link never signs anyone in.
    """
    token_hash, owner, email = _open_link(ctx, token, LinkPurpose.VERIFY_EMAIL)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if not repository.use_link(uow.conn, token_hash, LinkPurpose.VERIFY_EMAIL, now):
            raise link_expired()
        taken = repository.by_email(uow.conn, email)
        if taken is not None and taken[0].id != owner.id:
            # Someone else verified this address first (a change of e-mail raced a sign-up).
            raise link_expired()
        repository.mark_verified(uow.conn, owner.id, email, now)
        repository.void_links(uow.conn, owner.id, LinkPurpose.VERIFY_EMAIL, now)
        audit.record(uow.conn, email, "account.email_verified", owner.id, {}, now)
        uow.commit()
    return _reload(ctx, owner.id), email != owner.email
