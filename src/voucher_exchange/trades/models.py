"""The trade state machine: statuses, the one transition table, and its guard."""

from __future__ import annotations

from enum import StrEnum

from voucher_exchange.errors import Conflict


class TradeStatus(StrEnum):
    """Public trade statuses (PRODUCT.md §4); the API shows exactly these."""

    RECEIVED = "received"
    """Accepted and stored; nothing checked yet."""
    SCREENING = "screening"
    """Risk and compliance checks that need no outside call."""
    VERIFYING = "verifying"
    """Asking the issuer whether the voucher is valid, its balance and provenance."""
    IN_REVIEW = "in_review"
    """Held for a person to decide."""
    REDEEMING = "redeeming"
    """Securing the value at the issuer (redeem into the operator's account)."""
    CREDITED = "credited"
    """Value secured; the seller's payable is credited in the ledger."""
    PAYING_OUT = "paying_out"
    """The bank transfer to the seller is under way."""
    PAID = "paid"
    """The transfer executed: the money reached the seller's account."""
    REJECTED = "rejected"
    """Refused, with reasons; no money moved."""
    CANCELLED = "cancelled"
    """Withdrawn by the seller before verification."""
    FAILED = "failed"
    """Stopped by an error that needs an operator."""
    REVERSED = "reversed"
    """Clawed back after payout (e.g. the issuer reversed the redemption)."""


S = TradeStatus

TRANSITIONS: dict[TradeStatus, frozenset[TradeStatus]] = {
    S.RECEIVED: frozenset({S.SCREENING, S.CANCELLED, S.FAILED}),
    S.SCREENING: frozenset({S.VERIFYING, S.IN_REVIEW, S.REJECTED, S.CANCELLED, S.FAILED}),
    S.VERIFYING: frozenset({S.REDEEMING, S.IN_REVIEW, S.REJECTED, S.FAILED}),
    S.IN_REVIEW: frozenset({S.VERIFYING, S.REDEEMING, S.REJECTED}),
    S.REDEEMING: frozenset({S.CREDITED, S.REJECTED, S.FAILED}),
    S.CREDITED: frozenset({S.PAYING_OUT, S.FAILED}),
    S.PAYING_OUT: frozenset({S.PAID, S.FAILED}),
    S.PAID: frozenset({S.REVERSED}),
    S.FAILED: frozenset({S.REDEEMING, S.PAYING_OUT, S.REJECTED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REVERSED: frozenset(),
}

TERMINAL = frozenset({S.PAID, S.REJECTED, S.CANCELLED, S.REVERSED})
# Statuses the worker moves forward on its own.
WORKER_OWNED = frozenset({S.RECEIVED, S.SCREENING, S.VERIFYING, S.REDEEMING, S.CREDITED, S.PAYING_OUT})
CANCELLABLE = frozenset({S.RECEIVED, S.SCREENING})
# Statuses in which a trade still counts against the seller's limits.
COUNTS_TOWARDS_LIMITS = frozenset(set(S) - {S.REJECTED, S.CANCELLED})


class IllegalTransition(Conflict):
    """A status change the table does not allow."""

    def __init__(self, current: TradeStatus, target: TradeStatus) -> None:
        super().__init__(
            "trade_state_conflict",
            f"The trade is {current.value}; it cannot become {target.value}.",
        )
        self.current = current
        self.target = target


def check_transition(current: TradeStatus, target: TradeStatus) -> None:
    """Raise IllegalTransition unless `current → target` is in the table."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)


class AcquisitionMethod(StrEnum):
    """How the seller says they got the voucher."""

    GIFT = "gift"
    """Received as a present."""
    CARD = "card"
    """Bought with a debit or credit card."""
    BANK_TRANSFER = "bank_transfer"
    """Bought by bank transfer."""
    CARRIER_BILLING = "carrier_billing"
    """Paid on a mobile phone bill (휴대폰 소액결제): never bought."""
    PROMOTION = "promotion"
    """Given by a promotion or reward programme."""
    OTHER = "other"
    """Anything else."""


# The seller gets an e-mail when a trade reaches one of these (a job of this kind, ref "<id>:<status>").
NOTIFY_TRADE = "trade.notify"
NOTIFY_ON = frozenset({TradeStatus.PAID, TradeStatus.REJECTED, TradeStatus.IN_REVIEW, TradeStatus.REVERSED})
