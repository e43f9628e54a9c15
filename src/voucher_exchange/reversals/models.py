"""Chargeback reports from issuers and what became of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from voucher_exchange.money import Money

POLL_CHARGEBACKS = "issuer.chargebacks"
"""The recurring job that reads the issuer's chargeback feed (ref: the issuer)."""


class ChargebackOutcome(StrEnum):
    """What a chargeback report came to."""

    PENDING = "pending"
    """Not applied yet: the trade's payout has not settled (it is retried on every poll)."""
    REVERSED = "reversed"
    """Inside the liability window: the trade is reversed and the seller owes the payout."""
    LOSS = "loss"
    """After the liability window: the trade is reversed and the exchange bears the loss."""
    UNKNOWN_TRADE = "unknown_trade"
    """The issuer named a redemption we do not know; kept for an operator."""
    DUPLICATE = "duplicate"
    """The trade was already reversed by an earlier report; the first result stands."""


class AppealOutcome(StrEnum):
    """A reviewer's answer to a seller's appeal."""

    UPHELD = "upheld"
    """The reversal stands; the seller still owes the amount."""
    WRITTEN_OFF = "written_off"
    """The seller is not liable after all: what they owed is written off to the exchange's losses."""


@dataclass(frozen=True)
class Chargeback:
    """One chargeback report as stored."""

    id: int
    issuer_seq: int
    reference: str
    amount: Money
    reason: str
    reported_at: datetime
    received_at: datetime
    outcome: ChargebackOutcome
    receivable: Money
    appeal_note: str | None
    appealed_at: datetime | None
    appeal_outcome: AppealOutcome | None
    processed_at: datetime | None = None
    """When it was applied (the trade reversed); None while pending."""
