"""Payouts: statuses, the payout and destination records, what sending one came to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from voucher_exchange.money import Money


class PayoutStatus(StrEnum):
    """Where one payout stands."""

    CREATED = "created"
    """Decided, nothing reserved or sent yet."""
    SENDING = "sending"
    """Reserved in the ledger (pending) and handed to the rail; outcome may be unknown."""
    EXECUTED = "executed"
    """The rail executed it; the pending transfer is posted."""
    REJECTED = "rejected"
    """The rail refused it; the pending transfer is voided."""


class DestinationStatus(StrEnum):
    """Whether money may be sent to a destination."""

    VERIFIED = "verified"
    """The bank confirmed the account is held in the seller's verified legal name."""
    REJECTED = "rejected"
    """Not the seller's own account (or the holder is on the sanctions list)."""
    UNCONFIRMED = "unconfirmed"
    """Verified under a legal name the seller no longer has; unused until a check in this name again."""
    REFUSED = "refused"
    """In the seller's name, but the bank refused a transfer to it: not offered again; the seller
    adds it again (a new holder check) once the bank has fixed it, or adds another account."""


class PayoutPurpose(StrEnum):
    """What a payout pays."""

    TRADE = "trade"
    """What the trade's quote promised the seller (less any debt it settled)."""
    COMPENSATION = "compensation"
    """The payout-time promise's compensation, sent on its own after a trade payout the bank
    executed later than promised (that payout's amount was fixed when it was handed over)."""


WAITING_FOR_FUNDS = "waiting for treasury funding"
"""Why a job waits while the treasury cannot cover its payout; funding wakes exactly these."""

WAITING_FOR_CLEARANCE = "waiting for the seller's identity or a sanctions review"
"""Why a payout waits just before the bank transfer: the seller's identity is no longer verified in
the account holder's name, or the current sanctions list froze their payouts. A new identity check
or a reviewer's release wakes exactly these."""


class PayoutHeld(Exception):
    """The payout may not be sent now; the job waits (see WAITING_FOR_CLEARANCE)."""

    def __init__(self, payout_id: str, why: str) -> None:
        super().__init__(f"payout {payout_id} held: {why}")
        self.payout_id = payout_id
        self.why = why


WAITING_FOR_BANK_WINDOW = "waiting for the banks' nightly window to end"
"""Why a payout waits between 23:30 and 00:30 (KST, by default): the banks do not take transfers."""


class BankWindowClosed(Exception):
    """The banks' nightly window is open: the payout waits, unreserved, until `until`."""

    def __init__(self, payout_id: str, until: datetime) -> None:
        super().__init__(f"payout {payout_id} waits for the bank window to end at {until.isoformat()}")
        self.payout_id = payout_id
        self.until = until


WAITING_FOR_BANK = "waiting for the bank to execute the transfer"
"""Why a payout's job waits after the bank accepted the transfer without executing it yet."""


class RailPending(Exception):
    """The bank accepted the transfer and has not executed it yet: ask again later (same key)."""

    def __init__(self, payout_id: str) -> None:
        super().__init__(f"payout {payout_id} accepted by the bank, not executed yet")
        self.payout_id = payout_id


class TreasuryShort(Exception):
    """The treasury cannot cover the payout yet; it waits for funding."""


@dataclass(frozen=True)
class NewPayout:
    """A payout to create: what it pays for (`trade_id`), to whom, where, how much; which attempt."""

    trade_id: str
    user_id: str
    destination_id: str
    amount: Money
    attempt: int = 1
    purpose: PayoutPurpose = PayoutPurpose.TRADE


@dataclass(frozen=True)
class Payout:
    """One payout, as stored."""

    id: str
    trade_id: str
    attempt: int
    user_id: str
    destination_id: str
    amount: Money
    status: PayoutStatus
    idempotency_key: str
    rail_reference: str | None
    pending_transfer_id: int | None
    created_at: datetime
    sent_at: datetime | None
    settled_at: datetime | None
    purpose: PayoutPurpose = PayoutPurpose.TRADE

    @property
    def ledger_reference(self) -> str:
        """What the ledger's transfers for this payout are made for."""
        return f"payout:{self.id}"


@dataclass(frozen=True)
class Destination:
    """A seller's bank account (the number itself stays encrypted)."""

    id: str
    user_id: str
    bank_code: str
    account_number_enc: bytes
    account_fingerprint: str
    account_last4: str
    holder_name: str
    status: DestinationStatus
    created_at: datetime
    is_default: bool = False
    removed_at: datetime | None = None

    @property
    def masked(self) -> str:
        """The account number as anyone may see it."""
        return "••••" + self.account_last4


@dataclass(frozen=True)
class PayoutOutcome:
    """What the rail did with a payout: executed, or refused by the bank."""

    payout: Payout
    executed: bool
    rail_reference: str | None
    executed_at: datetime | None = None
    """When the bank executed it, if the rail said (else when we learned it)."""
