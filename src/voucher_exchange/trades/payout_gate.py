"""Whether a payout may go to the seller's bank now: the one gate for a trade's payout and a
late payout's compensation alike.

Identity's clearance first (a verified account in the seller's verified name, no new sanctions
match), then a fraud case's freeze of the seller's next payouts (the hold is recorded, so the
caller's transaction must commit it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from voucher_exchange.accounts.models import User
from voucher_exchange.identity import clearance
from voucher_exchange.money import Money
from voucher_exchange.payouts import freezes
from voucher_exchange.payouts.models import Destination


def why_held(
    conn: Connection, seller: User, destination_id: str, reference: str, amount: Money, now: datetime
) -> tuple[str | None, Destination]:
    """Why the payout made for `reference` (of `amount`, to `destination_id`) must wait, or None,
    and the account as read for that check (a payout is sent to what was checked). `seller`: as
    read in the caller's transaction."""
    blocked, destination = clearance.payout_blocked(conn, seller, destination_id, now)
    if blocked is not None:
        return blocked.value, destination
    if freezes.hold(conn, seller.id, reference, amount, now):
        return freezes.FRAUD_FREEZE, destination
    return None, destination
