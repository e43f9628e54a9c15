"""Posting rules for payouts and treasury funding, as pure functions over ledger accounts."""

from __future__ import annotations

from voucher_exchange.ledger.models import Phase, TransferIntent, capital, seller_payable, treasury
from voucher_exchange.money import Money


def reserve_payout(payout_id: str, user_id: str, amount: Money) -> TransferIntent:
    """Before asking the rail: move the payable towards the treasury, pending."""
    return TransferIntent(
        f"payout:{payout_id}:pending",
        f"payout:{payout_id}",
        seller_payable(user_id, amount.currency),
        treasury(amount.currency),
        amount.amount,
        Phase.PENDING,
        "payout sent to rail",
        covered=True,
    )


def fund_treasury(reference: str, amount: Money) -> TransferIntent:
    """The operator puts money into the payout treasury."""
    return TransferIntent(
        f"funding:{reference}",
        f"funding:{reference}",
        treasury(amount.currency),
        capital(amount.currency),
        amount.amount,
        Phase.SINGLE,
        "treasury funded",
    )
