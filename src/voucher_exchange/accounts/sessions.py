"""Ending an account's other sessions when what they were signed in with changes.

Enrolling in two-factor, a role granted or removed, and a new password each end every other
session and API token of the account (and any half-finished sign-in waiting for its code),
in the transaction that makes the change, with one audit entry saying why. A token that
survived would keep what it was signed in with: a token from before enrolment would carry
no second factor, one from before a role change the old standing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from voucher_exchange.accounts import repository
from voucher_exchange.accounts.models import LinkPurpose, RevokeReason
from voucher_exchange.audit import service as audit


def revoke_other_sessions(
    conn: Connection,
    user_id: str,
    reason: RevokeReason,
    actor: str,
    now: datetime,
    keep_token_hash: str | None = None,
) -> int:
    """End every session and API token of the user but `keep_token_hash` (audited); how many ended."""
    if keep_token_hash:
        ended = repository.delete_tokens_except(conn, user_id, keep_token_hash)
    else:
        ended = repository.delete_tokens_of(conn, user_id)
    repository.void_links(conn, user_id, LinkPurpose.SIGN_IN_STEP, now)
    audit.record(
        conn, actor, "account.sessions_revoked", user_id, {"tokens": ended, "reason": reason.value}, now
    )
    return ended
