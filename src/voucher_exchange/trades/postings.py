"""Posting rules for a trade, as pure functions over ledger accounts."""

from __future__ import annotations

from voucher_exchange.ledger.models import (
    Phase,
    TransferIntent,
    inventory,
    margin,
    seller_payable,
    seller_receivable,
)
from voucher_exchange.money import Money
from voucher_exchange.trades.models import Trade


def credit_trade(trade: Trade) -> list[TransferIntent]:
    """Once a voucher is secured: its face value enters inventory, owed as payout plus fee (margin)."""
    currency = trade.currency
    stock = inventory(trade.brand_slug, currency)
    reference = trade.ledger_reference
    intents = [
        TransferIntent(
            f"trade:{trade.id}:credit",
            reference,
            stock,
            seller_payable(trade.user_id, currency),
            trade.payout.amount,
            Phase.SINGLE,
            "voucher secured: seller credited",
        )
    ]
    if trade.fee.is_positive():
        intents.append(
            TransferIntent(
                f"trade:{trade.id}:fee",
                reference,
                stock,
                margin(currency),
                trade.fee.amount,
                Phase.SINGLE,
                "exchange fee",
            )
        )
    return intents


def net_against_receivable(trade_id: str, user_id: str, amount: Money) -> TransferIntent:
    """Part of a new trade's payable settles what the seller owes (covered: never more than is owed)."""
    return TransferIntent(
        f"trade:{trade_id}:netting",
        f"trade:{trade_id}",
        seller_payable(user_id, amount.currency),
        seller_receivable(user_id, amount.currency),
        amount.amount,
        Phase.SINGLE,
        "settled against the amount owed after a reversal",
        covered=True,
    )


def net_against_linked_receivable(
    trade_id: str, user_id: str, owner_id: str, amount: Money
) -> TransferIntent:
    """Part of a new trade's payable settles what another account of the same person owes
    (identity/links.py); covered: never more than that account owes."""
    return TransferIntent(
        f"trade:{trade_id}:{owner_id}:netting",
        f"trade:{trade_id}",
        seller_payable(user_id, amount.currency),
        seller_receivable(owner_id, amount.currency),
        amount.amount,
        Phase.SINGLE,
        "settled against the amount owed by a linked account after a reversal",
        covered=True,
    )
