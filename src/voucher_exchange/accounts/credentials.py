"""A signed-in person looks after their account: password, e-mail address, other sessions.

Changing the password or the address asks for the current password again (throttled per
account), so a session left open on a shared computer is not enough to take the account.
"""

from __future__ import annotations

from voucher_exchange.accounts import recovery, repository
from voucher_exchange.accounts.models import LinkPurpose, Notice, RevokeReason, User
from voucher_exchange.accounts.sessions import revoke_other_sessions
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Unauthorized
from voucher_exchange.security import password_policy, throttle
from voucher_exchange.security.input_policy import parse_email
from voucher_exchange.security.passwords import hash_password, token_hash, verify_password


def confirm_password(ctx: Context, user: User, password: str) -> None:
    """Refuse unless `password` is the account's (counted per account like a log-in)."""
    throttle.hit(ctx, (throttle.REAUTH_PER_ACCOUNT, (user.id,)))
    with ctx.uow(readonly=True) as uow:
        stored = repository.password_hash_of(uow.conn, user.id)
    if not verify_password(stored, password[:200]):
        raise Unauthorized("password_wrong", "Your current password is not right.", "current_password")
    throttle.refund(ctx, throttle.REAUTH_PER_ACCOUNT, user.id)


def change_password(ctx: Context, user: User, current: str, new: str, session_token: str) -> int:
    """Set a new password; every other session and API token ends (this one stays). How many ended."""
    confirm_password(ctx, user, current)
    password_policy.check(new, user.email)
    password_hash = hash_password(new)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        repository.set_password(uow.conn, user.id, password_hash, now)
        repository.void_links(uow.conn, user.id, LinkPurpose.PASSWORD_RESET, now)
        # A pending change of e-mail dies with the old password: it may be the intruder's.
        repository.void_links(uow.conn, user.id, LinkPurpose.VERIFY_EMAIL, now)
        ended = revoke_other_sessions(
            uow.conn,
            user.id,
            RevokeReason.PASSWORD_CHANGED,
            user.email,
            now,
            keep_token_hash=token_hash(session_token),
        )
        audit.record(uow.conn, user.email, "account.password_changed", user.id, {"tokens": ended}, now)
        recovery.notify(uow.conn, user.id, Notice.PASSWORD_CHANGED, now)
        uow.commit()
    ctx.wake_workers()
    return ended


def change_email(ctx: Context, user: User, password: str, new_email: str) -> None:
    """Mail a link to the new address (the account moves when it is followed); tell the old one.

    An address that already has an account gets nothing, and the answer is the same.
    """
    new_email = parse_email(new_email)
    confirm_password(ctx, user, password)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if repository.by_email(uow.conn, new_email) is None:
            repository.void_links(uow.conn, user.id, LinkPurpose.VERIFY_EMAIL, now)
            recovery.issue_link(uow.conn, ctx.vault, user.id, LinkPurpose.VERIFY_EMAIL, new_email, now)
        recovery.notify(uow.conn, user.id, Notice.EMAIL_CHANGE_REQUESTED, now)
        audit.record(uow.conn, user.email, "account.email_change_requested", user.id, {}, now)
        uow.commit()
    ctx.wake_workers()


def sign_out_others(ctx: Context, user: User, session_token: str) -> int:
    """End every session and API token of the user but this one; how many ended."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        ended = repository.delete_tokens_except(uow.conn, user.id, token_hash(session_token))
        audit.record(uow.conn, user.email, "account.sign_out_others", user.id, {"tokens": ended}, now)
        uow.commit()
    return ended
