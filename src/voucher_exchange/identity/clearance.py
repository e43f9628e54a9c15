"""May this seller be paid into this account now? The one answer, which the trade pipeline asks.

The identity must be verified, the account verified and held in that legal name, and the
current sanctions list must not freeze the seller: a list newer than the one the seller was
last screened against is consulted now (risk re-screens them in the caller's transaction).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection

from voucher_exchange.accounts.models import IdentityStatus, User, normalise_name
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


def payout_blocked(
    conn: Connection, seller: User, destination_id: str, now: datetime
) -> tuple[Blocked | None, Destination]:
    """Why `seller` (as read in this transaction) may not be paid into this account right now
    (None: they may), and the account as read for that check (a payout is sent to what was
    checked)."""
    destination = payout_repo.destination(conn, destination_id)
    assert destination is not None
    # A refused account is still the seller's own: the bank decides again, and a refusal leaves
    # the money in the seller's payable to send elsewhere (never a payout stuck as unverified).
    usable = destination.status in (DestinationStatus.VERIFIED, DestinationStatus.REFUSED)
    if not usable or not in_sellers_name(seller, destination):
        return Blocked.IDENTITY, destination
    if sanctions_rescreen.screen_if_stale(conn, seller.id, now):
        return Blocked.SANCTIONS, destination
    return None, destination
