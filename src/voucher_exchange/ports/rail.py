"""The payout-rail interface: bank account checks and transfers with idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class RailTransferStatus(StrEnum):
    """What the rail says happened to a transfer."""

    EXECUTED = "executed"
    """Money left the operator's account and reached the seller's bank."""
    PENDING = "pending"
    """The bank accepted it and has not executed it yet (a slow bank): ask again later."""
    REJECTED = "rejected"
    """The receiving bank refused it (closed account, wrong holder); no money moved."""
    NOT_FOUND = "not_found"
    """The rail never saw a transfer with this idempotency key."""


@dataclass(frozen=True)
class AccountHolder:
    """The rail's answer to an account-holder check."""

    exists: bool
    holder_name: str | None


@dataclass(frozen=True)
class RailTransfer:
    """One transfer as the rail records it."""

    idempotency_key: str
    status: RailTransferStatus
    amount: int
    currency: str
    rail_reference: str | None
    executed_at: datetime | None = None
    """When the money reached the seller's bank, if the rail says (executed transfers only)."""


class PayoutRail(Protocol):
    """A bank transfer network. Calls may raise `ExternalUnavailable` (outcome unknown)."""

    def account_holder(self, bank_code: str, account_number: str) -> AccountHolder:
        """Who holds this account, per the bank."""
        ...

    def transfer(
        self,
        idempotency_key: str,
        bank_code: str,
        account_number: str,
        holder_name: str,
        amount: int,
        currency: str,
    ) -> RailTransfer:
        """Send money; the same key never executes twice."""
        ...

    def transfer_status(self, idempotency_key: str) -> RailTransfer:
        """What happened to the transfer with this key (NOT_FOUND if never received)."""
        ...
