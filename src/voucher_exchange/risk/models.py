"""What the risk engine is asked about: the declared acquisition and the trade facts it scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

PRUNE_WINDOWS = "risk.prune_windows"
"""The recurring job that deletes risk-window counters and links older than 31 days."""


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


@dataclass(frozen=True)
class RiskSubject:
    """The trade being decided, as the risk engine sees it (the trades package builds it).

    `counted_statuses` are the stored trade statuses that count in velocity and cumulative
    amounts (refused and withdrawn trades do not); `paid_status` marks a completed sale.
    """

    id: str
    user_id: str
    brand_slug: str
    face_value: int
    acquisition_method: str
    payout_destination_id: str
    device_id: str | None
    client_ip: str | None
    account_fingerprint: str | None
    counted_statuses: frozenset[str]
    paid_status: str
    created_at: datetime


@dataclass(frozen=True)
class RecordedDecision:
    """One decision to store on the trade: the live one, or a shadow rule set's."""

    stage: str
    outcome: str
    reasons: list[str]
    ruleset_version: str
    evidence: dict[str, Any] = field(default_factory=dict)
