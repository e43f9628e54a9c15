"""Event types, endpoint and delivery states, the retry schedule: plain values, no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

DELIVER = "webhook.deliver"
"""Job kind: one attempt of one delivery; ref `<delivery id>:<attempt number>`."""
MAIL_DISABLED = "webhook.disabled_mail"
"""Job kind: tell an endpoint's owner it was disabled; ref `<endpoint id>`."""


class EventType(StrEnum):
    """What a partner can subscribe to: each change a seller can see."""

    TRADE_RECEIVED = "trade.received"
    """The trade was accepted for processing."""
    TRADE_IN_REVIEW = "trade.in_review"
    """A person will decide."""
    TRADE_PAID = "trade.paid"
    """The money was sent (or settled what the seller owed)."""
    TRADE_REJECTED = "trade.rejected"
    """Refused, with reasons; no money moved."""
    TRADE_CANCELLED = "trade.cancelled"
    """The seller withdrew it."""
    TRADE_FAILED = "trade.failed"
    """It stopped; an operator (or, after a refused payout, the seller) acts next."""
    TRADE_REVERSED = "trade.reversed"
    """The issuer took the value back after payment."""
    PAYOUT_REFUSED = "payout.refused"
    """The bank refused the transfer; the seller can choose another account."""
    RECEIVABLE_CHANGED = "receivable.changed"
    """What the seller owes after a reversal changed (reversal, netting, write-off)."""
    WEBHOOK_TEST = "webhook.test"
    """Sent on request to one endpoint only (the "send a test event" action)."""


SUBSCRIBABLE = frozenset(EventType) - {EventType.WEBHOOK_TEST}


class EndpointStatus(StrEnum):
    """Whether an endpoint gets deliveries."""

    ENABLED = "enabled"
    """Receives every event it subscribes to."""
    DISABLED = "disabled"
    """Answered 410, or failed for three days; keeps its log, gets nothing new."""
    DELETED = "deleted"
    """Removed by its owner; gone from every list."""


class DeliveryStatus(StrEnum):
    """Where one event's delivery to one endpoint stands."""

    PENDING = "pending"
    """An attempt is due or running."""
    DELIVERED = "delivered"
    """The endpoint answered 2xx."""
    FAILED = "failed"
    """Given up: the schedule ran out, the endpoint answered 410 or was disabled."""


# Seconds after each failed attempt before the next (Standard Webhooks / Svix's schedule):
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — about 27.6 h in all. Jitter of ±10 % keeps the
# total above 24 h (0.9 × 27.6 h = 24.8 h) and spreads a burst of retries.
RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.1
DISABLE_AFTER = timedelta(days=3)
"""An endpoint failing without a success for this long is disabled and its owner told."""
GONE = 410
DEFAULT_OVERLAP_HOURS = 24
MAX_OVERLAP_HOURS = 24 * 7


def next_delay(attempt: int, rng: random.Random) -> float | None:
    """Seconds until the attempt after failed attempt number `attempt` (1-based); None: give up."""
    if attempt > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempt - 1]
    return base * (1 + rng.uniform(-JITTER, JITTER))


@dataclass(frozen=True)
class Outcome:
    """What one attempt's answer means for the delivery and its endpoint."""

    delivered: bool
    disable: str | None
    """Why the endpoint is to be disabled (`gone`, `failing`), if it is."""
    retry_in: float | None


def judge(
    status_code: int | None,
    attempt: int,
    failing_since: datetime | None,
    now: datetime,
    rng: random.Random,
) -> Outcome:
    """Any 2xx is success; 410 disables; anything else is retried on the schedule, and three
    days of failure without a success disable the endpoint."""
    if status_code is not None and 200 <= status_code < 300:
        return Outcome(True, None, None)
    if status_code == GONE:
        return Outcome(False, "gone", None)
    since = failing_since or now
    if now - since >= DISABLE_AFTER:
        return Outcome(False, "failing", None)
    return Outcome(False, None, next_delay(attempt, rng))


@dataclass(frozen=True)
class Endpoint:
    """A seller's endpoint as stored (the secrets still encrypted)."""

    id: str
    user_id: str
    url: str
    description: str | None
    events: list[str]
    status: EndpointStatus
    secret_enc: bytes
    old_secret_enc: bytes | None
    old_secret_until: datetime | None
    failing_since: datetime | None
    disabled_reason: str | None
    created_at: datetime

    def subscribes(self, event_type: str) -> bool:
        """Whether events of this type are for this endpoint."""
        return event_type in self.events

    def public(self) -> dict[str, Any]:
        """The endpoint as the API shows it (never a secret)."""
        return {
            "id": self.id,
            "url": self.url,
            "description": self.description,
            "events": sorted(self.events),
            "status": self.status.value,
            "disabled_reason": self.disabled_reason,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class Delivery:
    """One event's delivery to one endpoint."""

    id: str
    endpoint_id: str
    event_id: str
    status: DeliveryStatus
    attempts: int


def iso(at: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the rest of the API writes times."""
    return None if at is None else at.isoformat().replace("+00:00", "Z")
