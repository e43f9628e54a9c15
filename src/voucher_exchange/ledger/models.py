"""Ledger posting rules as pure functions: which accounts move, by how much, in what phase.

Every transfer moves a positive amount from one debited account to one credited
account in the same currency, so each transfer balances by construction and all
accounts together always sum to zero per currency. Balance = debits − credits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AccountKind(StrEnum):
    """What an account represents."""

    TREASURY = "treasury"
    """The operator's bank money that payouts are sent from (asset)."""
    CAPITAL = "capital"
    """The operator's funding of the treasury (equity)."""
    INVENTORY = "inventory"
    """Value secured at an issuer, per brand (asset)."""
    SELLER_PAYABLE = "seller_payable"
    """What the exchange owes one seller (liability)."""
    MARGIN = "margin"
    """Fees earned (revenue)."""
    REVERSALS = "reversals"
    """Clawbacks after payout (contra)."""


class Phase(StrEnum):
    """Where a transfer stands in the two-phase protocol."""

    SINGLE = "single"
    """Posted at once."""
    PENDING = "pending"
    """Reserved: waits for the outside world to decide."""
    POST = "post"
    """Settles a pending transfer: it happened."""
    VOID = "void"
    """Cancels a pending transfer: it did not happen."""


@dataclass(frozen=True)
class AccountRef:
    """An account by its code and currency."""

    code: str
    currency: str
    kind: AccountKind


@dataclass(frozen=True)
class TransferIntent:
    """One balanced movement to write; `key` makes writing it idempotent."""

    key: str
    debit: AccountRef
    credit: AccountRef
    amount: int
    phase: Phase
    memo: str


def treasury(currency: str) -> AccountRef:
    """The payout treasury."""
    return AccountRef("treasury", currency, AccountKind.TREASURY)


def capital(currency: str) -> AccountRef:
    """Operator capital."""
    return AccountRef("operator_capital", currency, AccountKind.CAPITAL)


def inventory(brand: str, currency: str) -> AccountRef:
    """Secured voucher value of one brand."""
    return AccountRef(f"inventory:{brand}", currency, AccountKind.INVENTORY)


def seller_payable(user_id: str, currency: str) -> AccountRef:
    """What one seller is owed."""
    return AccountRef(f"seller_payable:{user_id}", currency, AccountKind.SELLER_PAYABLE)


def margin(currency: str) -> AccountRef:
    """Fees earned."""
    return AccountRef("margin", currency, AccountKind.MARGIN)


def credit_trade(
    trade_id: str, user_id: str, brand: str, currency: str, payout: int, fee: int
) -> list[TransferIntent]:
    """Once a voucher is secured: its face value enters inventory, owed as payout plus fee (margin)."""
    stock = inventory(brand, currency)
    intents = [
        TransferIntent(
            f"trade:{trade_id}:credit",
            stock,
            seller_payable(user_id, currency),
            payout,
            Phase.SINGLE,
            "voucher secured: seller credited",
        )
    ]
    if fee > 0:
        intents.append(
            TransferIntent(
                f"trade:{trade_id}:fee", stock, margin(currency), fee, Phase.SINGLE, "exchange fee"
            )
        )
    return intents


def reserve_payout(payout_id: str, user_id: str, currency: str, amount: int) -> TransferIntent:
    """Before asking the rail: move the payable towards the treasury, pending."""
    return TransferIntent(
        f"payout:{payout_id}:pending",
        seller_payable(user_id, currency),
        treasury(currency),
        amount,
        Phase.PENDING,
        "payout sent to rail",
    )


def fund_treasury(reference: str, currency: str, amount: int) -> TransferIntent:
    """The operator puts money into the payout treasury."""
    return TransferIntent(
        f"funding:{reference}",
        treasury(currency),
        capital(currency),
        amount,
        Phase.SINGLE,
        "treasury funded",
    )
