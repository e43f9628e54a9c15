"""Payout statuses."""

from __future__ import annotations

from enum import StrEnum


class PayoutStatus(StrEnum):
    """Where one payout stands."""

    CREATED = "created"
    """Decided, nothing reserved or sent yet."""
    SENDING = "sending"
    """Reserved in the ledger (pending) and handed to the rail; outcome may be unknown."""
    EXECUTED = "executed"
    """The rail executed it; the pending transfer is posted."""
    REJECTED = "rejected"
    """The rail refused it; the pending transfer is voided and the trade needs an operator."""


class TreasuryShort(Exception):
    """The treasury cannot cover the payout yet; it waits for funding."""
