"""May this seller be paid into this account now? The one answer, which the trade pipeline asks.

The identity must be verified, the account verified and held in that legal name, and the
current sanctions list must not freeze the seller: a list newer than the one the seller was
last screened against is consulted now (risk re-screens them in the caller's transaction).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, true

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import IdentityStatus, User, normalise_name
from voucher_exchange.db.schema import payout_destinations, users
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts.models import Destination, DestinationStatus
from voucher_exchange.risk import sanctions_rescreen


class Blocked(StrEnum):
    """Why a payout must wait."""

    IDENTITY = "identity"
    """The identity is not verified, or the account is not (or no longer) in the verified name."""
    SANCTIONS = "sanctions"
    """The current sanctions list froze the seller's payouts (a reviewer may release them)."""


def in_sellers_name(seller: User, destination: Destination) -> bool:
    """The account is held in the seller's current verified legal name."""
    return (
        seller.identity_status is IdentityStatus.VERIFIED
        and seller.legal_name is not None
        and normalise_name(destination.holder_name) == normalise_name(seller.legal_name)
    )


def payout_blocked(conn: Connection, read: Any, now: datetime) -> tuple[Blocked | None, User, Destination]:
    """Why the seller may not be paid into this account right now (None: they may), with the
    seller and the account as read for that check in this transaction (a payout is sent to what
    was checked). `read`: the row of a `for_payout` statement, run in this transaction."""
    seller, destination = accounts.user_from(read), payout_repo.destination_from(read, _D)
    # A refused account is still the seller's own: the bank decides again, and a refusal leaves
    # the money in the seller's payable to send elsewhere (never a payout stuck as unverified).
    usable = destination.status in (DestinationStatus.VERIFIED, DestinationStatus.REFUSED)
    if not usable or not in_sellers_name(seller, destination):
        return Blocked.IDENTITY, seller, destination
    if sanctions_rescreen.frozen_given(conn, seller.id, read, now):
        return Blocked.SANCTIONS, seller, destination
    return None, seller, destination


def for_payout(*more: Any) -> Select[Any]:
    """What `payout_blocked` needs in one statement (bound to `user_id` and `destination_id`): the
    seller, the account and the seller's sanctions standing, and the caller's `more` columns."""
    return _seller_and_account(*sanctions_rescreen.STANDING, *more)


def for_screening(*more: Any) -> Select[Any]:
    """The seller, row-locked on PostgreSQL (per-seller work is serialised on it), the account
    they named, and the caller's `more` columns: one statement for `seller_and_account`."""
    return _seller_and_account(*more).with_for_update(of=users)


def seller_and_account(
    conn: Connection, read: Select[Any], user_id: str, destination_id: str, **params: Any
) -> tuple[User, Destination, Any]:
    """The seller and the account as `read` (a `for_screening` statement, built once by its
    caller) returned them, and its row (the caller's own columns, bound by `params`)."""
    row = conn.execute(read, {"user_id": user_id, "destination_id": destination_id, **params}).one()
    return accounts.user_from(row), payout_repo.destination_from(row, _D), row


_D = "d_"  # the destination's columns beside the seller's


def _seller_and_account(*more: Any) -> Select[Any]:
    return (
        select(users, *payout_repo.destination_columns(_D), *more)
        .select_from(users.join(payout_destinations, true()))
        .where(
            (users.c.id == bindparam("user_id")) & (payout_destinations.c.id == bindparam("destination_id"))
        )
    )
