"""Whether a payout may go to the seller's bank now: the one gate for a trade's payout and a
late payout's compensation alike.

Identity's clearance first (a verified account in the seller's verified name, no new sanctions
match), then a fraud case's freeze of the seller's next payouts (the hold is recorded, so the
caller's transaction must commit it). A payout that waited is also kept from the bank while the
banks are closed for the night (`before_sending`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select

from voucher_exchange.accounts.models import User
from voucher_exchange.config import Settings
from voucher_exchange.identity import clearance
from voucher_exchange.money import Money
from voucher_exchange.payouts import freezes
from voucher_exchange.payouts.models import BankWindowClosed, Destination
from voucher_exchange.promises import service as promise_service


def reading(*more: Any) -> Select[Any]:
    """The gate's one statement (the seller, the account, their sanctions standing and whether a
    fraud freeze is open), with the caller's `more` columns: build it once, pass it to `why_held`."""
    return clearance.for_payout(freezes.ANY_OPEN, *more)


_READ = reading()


def why_held(
    conn: Connection,
    user_id: str,
    destination_id: str,
    reference: str,
    amount: Money,
    now: datetime,
    read: Select[Any] = _READ,
    **params: Any,
) -> tuple[str | None, User, Destination, Any]:
    """Why the payout made for `reference` (of `amount`, to `destination_id`) must wait, or None,
    with the seller and the account as read for that check in the caller's transaction (a payout
    is sent to what was checked), and the row `read` returned (a `reading` statement: the
    caller's own columns, bound by `params`). One statement when nothing holds the payout."""
    row = conn.execute(read, {"user_id": user_id, "destination_id": destination_id, **params}).one()
    blocked, seller, destination = clearance.payout_blocked(conn, row, now)
    if blocked is not None:
        return blocked.value, seller, destination, row
    if row.payout_freeze_open and freezes.hold(conn, seller.id, reference, amount, now):
        return freezes.FRAUD_FREEZE, seller, destination, row
    return None, seller, destination, row


def before_sending(
    conn: Connection,
    settings: Settings,
    user_id: str,
    destination_id: str,
    reference: str,
    amount: Money,
    payout_id: str,
    now: datetime,
) -> str | None:
    """For a created payout that waited (for funds, a crash, the window), just before it is
    reserved and sent: why it is held, or None. The hold is recorded: commit, then raise
    `PayoutHeld`. Raises BankWindowClosed (until the window ends) while the banks are closed."""
    held, _, _, _ = why_held(conn, user_id, destination_id, reference, amount, now)
    if held is None:
        window = promise_service.terms(conn, settings).window
        if window.contains(now):
            raise BankWindowClosed(payout_id, window.ends_after(now))
    return held
