"""The issuer interface: what the exchange needs from any voucher issuer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class VoucherState(StrEnum):
    """What the issuer says about a voucher."""

    ACTIVE = "active"
    """Valid and unspent."""
    REDEEMED = "redeemed"
    """Already spent (by us or by someone else)."""
    EXPIRED = "expired"
    """Past its validity."""
    BLOCKED = "blocked"
    """Frozen by the issuer (reported stolen, fraud)."""
    NOT_FOUND = "not_found"
    """The issuer does not know this code/PIN."""


@dataclass(frozen=True)
class VoucherStatus:
    """The issuer's answer to a lookup."""

    state: VoucherState
    balance: int  # minor units, in the brand's currency
    currency: str
    issued_at: datetime | None
    purchase_channel: str | None  # card|bank_transfer|carrier_billing|gift|promotion|unknown
    redeemed_by: str | None  # the redemption reference, when redeemed
    redeemed_at: datetime | None = None
    """When the voucher was used, where the issuer says."""
    answer: bytes = field(default=b"", compare=False, repr=False)
    """The issuer's answer exactly as received (its SHA-256 goes on the evidence record)."""


@dataclass(frozen=True)
class Redemption:
    """Proof that the voucher's value now sits in the operator's issuer account."""

    reference: str
    amount: int


class VoucherRefused(Exception):
    """The issuer refused to redeem: the voucher is not (or no longer) redeemable by us."""

    def __init__(self, state: VoucherState, answer: bytes = b"") -> None:
        super().__init__(state.value)
        self.state = state
        self.answer = answer
        """The issuer's refusal exactly as received."""


@dataclass(frozen=True)
class Chargeback:
    """The issuer took a redeemed voucher's value back: stolen, fraud, or a card chargeback."""

    id: int  # the issuer's own sequence: the feed is read after the last id seen
    reference: str  # our redemption reference (the trade id)
    amount: int
    currency: str
    reason: str  # stolen | fraud | chargeback
    reported_at: datetime


class Issuer(Protocol):
    """One issuer's API. Calls may raise `ExternalUnavailable` (outcome unknown)."""

    def lookup(self, brand: str, code: str, pin: str | None) -> VoucherStatus:
        """Balance, state and provenance of a voucher; changes nothing."""
        ...

    def redeem(self, brand: str, code: str, pin: str | None, amount: int, reference: str) -> Redemption:
        """Move the voucher's value into the operator's account, idempotent on `reference`.

        Redeeming again with the same reference returns the same Redemption; a voucher
        redeemed by anyone else raises `VoucherRefused(REDEEMED)`.
        """
        ...

    def chargebacks(self, after: int) -> list[Chargeback]:
        """Values the issuer took back after redemption, reported after the issuer's own id `after`."""
        ...

    def block(self, brand: str, code: str, pin: str | None, reason: str, charge_back: bool) -> VoucherState:
        """Ask the issuer to block a voucher reported stolen or scam-sourced; the state it is in after.

        An unspent voucher becomes `blocked` (nobody can redeem it). One already redeemed stays
        `redeemed`; with `charge_back` the issuer also takes the value back from the redeemer (for a
        voucher we redeemed, a chargeback appears in `chargebacks`). An unknown code is `not_found`.
        """
        ...
