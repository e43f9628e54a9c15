"""Posting rules for a reversal, as pure functions over ledger accounts.

Inside the liability window the issuer's clawback (the face value leaves inventory) is
offset by a receivable from the seller for what we paid them; the fee we earned is what
the `reversals` account keeps. After the window, the whole face value is the exchange's
loss. A later trade's payout settles the receivable first (netting, in `trades/postings.py`).
"""

from __future__ import annotations

from voucher_exchange.ledger.models import (
    Phase,
    TransferIntent,
    inventory,
    losses,
    reversals,
    seller_receivable,
)
from voucher_exchange.money import Money


def reverse(
    trade_id: str, user_id: str, brand: str, face_value: Money, payout: Money, seller_liable: bool
) -> list[TransferIntent]:
    """The issuer took the voucher's value back after we paid the seller."""
    currency = face_value.currency
    reference = f"trade:{trade_id}"
    stock = inventory(brand, currency)
    if not seller_liable:
        return [
            TransferIntent(
                f"reversal:{trade_id}:loss",
                reference,
                losses(currency),
                stock,
                face_value.amount,
                Phase.SINGLE,
                "issuer clawback after the liability window: the exchange's loss",
            )
        ]
    return [
        TransferIntent(
            f"reversal:{trade_id}:clawback",
            reference,
            reversals(currency),
            stock,
            face_value.amount,
            Phase.SINGLE,
            "issuer clawback",
        ),
        TransferIntent(
            f"reversal:{trade_id}:receivable",
            reference,
            seller_receivable(user_id, currency),
            reversals(currency),
            payout.amount,
            Phase.SINGLE,
            "owed by the seller after a reversal",
        ),
    ]


def write_off(trade_id: str, user_id: str, amount: Money) -> TransferIntent:
    """An appeal succeeded: what the seller still owes for this reversal becomes the exchange's loss."""
    return TransferIntent(
        f"reversal:{trade_id}:written_off",
        f"trade:{trade_id}",
        losses(amount.currency),
        seller_receivable(user_id, amount.currency),
        amount.amount,
        Phase.SINGLE,
        "appeal accepted: receivable written off",
        covered=True,
    )
