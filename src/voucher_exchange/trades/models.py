"""Trades: the record, the state machine (statuses, the one transition table, its guard)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NewType

from voucher_exchange.errors import Conflict
from voucher_exchange.money import Money

TradeId = NewType("TradeId", str)
PROCESS_TRADE = "trade.process"
"""The job kind that moves a trade through the pipeline (ref: the trade id)."""
PAY_COMPENSATION = "trade.pay_compensation"
"""The job kind that sends a compensation payout on its own (ref: the payout id; late_payout.py)."""


class TradeStatus(StrEnum):
    """Public trade statuses (docs/api.md, "Trade statuses"); the API shows exactly these."""

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
    """Withdrawn by the seller before verification or during review."""
    FAILED = "failed"
    """Stopped by an error that needs an operator."""
    REVERSED = "reversed"
    """Clawed back after payout (e.g. the issuer reversed the redemption)."""


S = TradeStatus

TRANSITIONS: dict[TradeStatus, frozenset[TradeStatus]] = {
    # A fraud report can hold a trade for review from the moment it was received.
    S.RECEIVED: frozenset({S.SCREENING, S.IN_REVIEW, S.CANCELLED, S.FAILED}),
    S.SCREENING: frozenset({S.VERIFYING, S.IN_REVIEW, S.REJECTED, S.CANCELLED, S.FAILED}),
    S.VERIFYING: frozenset({S.REDEEMING, S.IN_REVIEW, S.REJECTED, S.FAILED}),
    # Back to screening: a trade a fraud report held before its checks ran goes through them all.
    S.IN_REVIEW: frozenset({S.SCREENING, S.VERIFYING, S.REDEEMING, S.REJECTED, S.CANCELLED}),
    S.REDEEMING: frozenset({S.CREDITED, S.REJECTED, S.FAILED}),
    # Straight to paid when what the seller owed after a reversal absorbs the whole payout (netting).
    S.CREDITED: frozenset({S.PAYING_OUT, S.PAID, S.FAILED}),
    S.PAYING_OUT: frozenset({S.PAID, S.FAILED}),
    S.PAID: frozenset({S.REVERSED}),
    S.FAILED: frozenset({S.REDEEMING, S.CREDITED, S.PAYING_OUT, S.REJECTED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REVERSED: frozenset(),
}

TERMINAL = frozenset({S.PAID, S.REJECTED, S.CANCELLED, S.REVERSED})
# Before verification, or while a person reviews it: nothing has moved yet.
CANCELLABLE = frozenset({S.RECEIVED, S.SCREENING, S.IN_REVIEW})
# Refusals that say nothing bad about the voucher: its claim is released so it can be sold again
# (at the real balance, to a brand that reopened, under another quote). Every other refusal —
# duplicate, carrier billing, sanctions, issuer-blocked, the risk engine, a reviewer — keeps it.
RELEASES_CLAIM = frozenset(
    {"balance_mismatch", "quote_expired", "brand_paused", "brand_suspended", "limit_exceeded", "kyc_required"}
)
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


# The seller gets an e-mail when a trade reaches one of these (a job of this kind, ref "<id>:<status>").
NOTIFY_TRADE = "trade.notify"

NOTIFY_ON = frozenset({TradeStatus.PAID, TradeStatus.REJECTED, TradeStatus.IN_REVIEW, TradeStatus.REVERSED})


class TradeMovedOn(Conflict):
    """Another process changed the trade first; the step that raised it has nothing left to do."""

    def __init__(self, trade_id: str, expected: TradeStatus) -> None:
        super().__init__("trade_state_conflict", f"The trade is no longer {expected.value}.")
        self.trade_id = trade_id
        self.expected = expected


class DecisionStage(StrEnum):
    """Which step of the pipeline (or who) made a decision."""

    SCREENING = "screening"
    """Checks that need no outside call (limits, declaration, duplicates)."""
    ISSUER = "issuer"
    """The issuer's answer about the voucher (state, balance, channel)."""
    RISK = "risk"
    """The live risk rule set."""
    SHADOW = "shadow"
    """A candidate rule set, recorded but never enforced or shown."""
    REDEEM = "redeem"
    """The issuer refused the redemption."""
    PAYOUT = "payout"
    """What the bank did with the payout (a refusal the seller can recover from)."""
    REVERSAL = "reversal"
    """The issuer took the value back after payout."""
    REVIEW = "review"
    """A reviewer's decision."""
    REPORT = "report"
    """A fraud report named the voucher (a victim, an issuer): held for a reviewer."""


@dataclass(frozen=True)
class Trade:
    """One voucher sold under one quote (the code itself stays encrypted)."""

    id: TradeId
    user_id: str
    quote_id: str
    brand_slug: str
    face_value: Money
    rate_bps: int
    fee: Money
    payout: Money
    status: TradeStatus
    voucher_enc: bytes
    voucher_fingerprint: str
    voucher_last4: str
    acquisition_method: str
    acquired_on: date
    payout_destination_id: str
    client_ip: str | None
    device_id: str | None
    account_fingerprint: str | None
    issued_at: datetime | None
    issuer_answer: dict[str, Any] | None
    secured_at: datetime | None
    redemption_ref: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def currency(self) -> str:
        """The trade's currency (the brand's)."""
        return self.face_value.currency

    @property
    def ledger_reference(self) -> str:
        """What the ledger's transfers for this trade are made for."""
        return f"trade:{self.id}"


@dataclass(frozen=True)
class TradeEvent:
    """One step in a trade's history."""

    at: datetime
    from_status: TradeStatus | None
    to_status: TradeStatus
    actor: str
    note: str | None


@dataclass(frozen=True)
class StoredDecision:
    """A decision as stored with its trade."""

    id: int
    stage: DecisionStage
    outcome: str
    reasons: list[str]
    ruleset_version: str
    evidence: dict[str, Any]
    decided_by: str
    note: str | None
    created_at: datetime
