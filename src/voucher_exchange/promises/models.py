"""The payout-time promise as plain values: its terms, the banks' nightly window, what a trade is owed.

The promise: a seller is paid within `minutes` of their voucher being secured, or the exchange adds
`compensation_bps` of the fee to the payout (10000 = the fee in full), without being asked. Two
exclusions, stated before the sale: the banks' nightly window (a payout due in it queues until it
ends) and a trade held for review (a person decides; the page shows the expected wait).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import BPS_DENOMINATOR, Money

DEFAULT_RAIL = "bank"
"""The deployment's one payout rail: its terms are stored under this name."""

MAX_PROMISE_MINUTES = 24 * 60


class Exclusion(StrEnum):
    """Why the promise does not apply to a trade (said before the sale, never found afterwards)."""

    BANK_WINDOW = "bank_window"
    """The payout falls in the banks' nightly window: it queues until the window ends."""
    REVIEW_HOLD = "review_hold"
    """A person reviews the trade before it is paid."""


@dataclass(frozen=True)
class BankWindow:
    """The banks' nightly maintenance window, in local time; it may cross midnight (23:30–00:30)."""

    start: time
    end: time
    tz: str

    def _local_bounds(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The window that contains `at` (local start, local end), or None."""
        zone = ZoneInfo(self.tz)
        local = at.astimezone(zone)
        if self.start == self.end:
            return None  # an empty window: the rail never closes
        for days_back in (0, 1):
            day = local.date() - timedelta(days=days_back)
            begins = datetime.combine(day, self.start, zone)
            ends_day = day if self.end > self.start else day + timedelta(days=1)
            ends = datetime.combine(ends_day, self.end, zone)
            if begins <= local < ends:
                return begins, ends
        return None

    def contains(self, at: datetime) -> bool:
        """True while payouts queue (the window is open at `at`)."""
        return self._local_bounds(at) is not None

    def ends_after(self, at: datetime) -> datetime:
        """When the window open at `at` ends (`at` itself when it is not open)."""
        bounds = self._local_bounds(at)
        return at if bounds is None else bounds[1].astimezone(at.tzinfo)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when any instant of [start, end] falls in a window."""
        if self.start == self.end:
            return False
        if self.contains(start) or self.contains(end):
            return True
        zone = ZoneInfo(self.tz)
        first = start.astimezone(zone).date()
        # A window that begins inside the span (the span is at most a day or two long).
        for offset in range((end - start).days + 2):
            begins = datetime.combine(first + timedelta(days=offset), self.start, zone)
            if start <= begins <= end:
                return True
        return False

    def label(self) -> str:
        """'23:30–00:30' as a page shows it."""
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class PromiseTerms:
    """The operator's promise: paid within `minutes` of securing, or `compensation_bps` of the fee back."""

    minutes: int
    compensation_bps: int
    window: BankWindow

    def compensation(self, fee: Money) -> Money:
        """The compensation for a missed promise: a share of the fee, rounded up (the seller's favour)."""
        share = fee.amount * self.compensation_bps
        return Money(-(-share // BPS_DENOMINATOR), fee.currency)

    def due_at(self, secured_at: datetime) -> datetime:
        """When the payout is due for a voucher secured at `secured_at`."""
        return secured_at + timedelta(minutes=self.minutes)


def default_terms(tz: str, bank_window: str = "23:30-00:30") -> PromiseTerms:
    """The promise a deployment makes until its operator sets another: 10 minutes, or the fee back.

    `bank_window` is "HH:MM-HH:MM" (the deployment's setting); "off" or empty means none.
    """
    start, end = time(0, 0), time(0, 0)
    if bank_window.strip() and bank_window.strip().lower() != "off":
        first, _, second = bank_window.partition("-")
        start, end = _clock_time(first, "bank_window"), _clock_time(second, "bank_window")
    return PromiseTerms(10, BPS_DENOMINATOR, BankWindow(start, end, tz))


def checked_terms(
    minutes: int, compensation_bps: int, window_start: str, window_end: str, tz: str
) -> PromiseTerms:
    """Terms from an operator's input; a clear field error for a value out of range."""
    if not 1 <= minutes <= MAX_PROMISE_MINUTES:
        raise InvalidInput("promise_minutes_invalid", "Promise between 1 minute and 24 hours.", "minutes")
    if not 0 <= compensation_bps <= BPS_DENOMINATOR:
        raise InvalidInput(
            "compensation_invalid", "Compensation is between 0 and 100% of the fee.", "compensation_bps"
        )
    return PromiseTerms(
        minutes,
        compensation_bps,
        BankWindow(_clock_time(window_start, "window_start"), _clock_time(window_end, "window_end"), tz),
    )


def _clock_time(value: str, field: str) -> time:
    try:
        parsed = time.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("time_invalid", "Give a time as HH:MM, e.g. 23:30.", field) from None
    return parsed.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class TradePromise:
    """The promise one trade was made, fixed when its voucher was secured."""

    trade_id: str
    due_at: datetime
    applies: bool
    excluded_because: Exclusion | None
    compensation_due: Money
    """What a miss adds to the payout (fixed with the promise: later changes to the terms do not move it)."""
    compensated_at: datetime | None

    @property
    def compensation(self) -> Money | None:
        """The compensation paid for a missed promise, once it was (None when the promise carried
        nothing: a 0% share says no money, so no page says "0 added")."""
        if self.compensated_at is None or not self.compensation_due.is_positive():
            return None
        return self.compensation_due


def judge(
    terms: PromiseTerms, trade_id: str, fee: Money, secured_at: datetime, held_for_review: bool
) -> TradePromise:
    """The promise a trade secured at `secured_at` gets: due when, and whether it applies."""
    due = terms.due_at(secured_at)
    excluded: Exclusion | None = None
    if held_for_review:
        excluded = Exclusion.REVIEW_HOLD
    elif terms.window.overlaps(secured_at, due):
        excluded = Exclusion.BANK_WINDOW
    return TradePromise(trade_id, due, excluded is None, excluded, terms.compensation(fee), None)


def missed(promise: TradePromise, payout_sent_at: datetime) -> bool:
    """True when the payout goes to the bank after it was due, under a promise that applies."""
    return promise.applies and promise.compensated_at is None and payout_sent_at > promise.due_at


@dataclass(frozen=True)
class QuotedPromise:
    """What a quote says about the promise before the seller sells."""

    minutes: int
    compensation: Money
    excluded_because: Exclusion | None
    window: BankWindow
    expected_review_minutes: int


def quoted(
    terms: PromiseTerms, fee: Money, now: datetime, expires_at: datetime, expected_review_minutes: int
) -> QuotedPromise:
    """The promise as a quote states it: excluded when a voucher secured before the quote expires
    could still be due inside the banks' window."""
    latest_due = terms.due_at(expires_at)
    excluded = Exclusion.BANK_WINDOW if terms.window.overlaps(now, latest_due) else None
    return QuotedPromise(
        terms.minutes, terms.compensation(fee), excluded, terms.window, expected_review_minutes
    )


def percent_text(bps: int) -> str:
    """A share in basis points as people write it, in integers only: 10000 → "100%", 2550 → "25.5%"."""
    whole, rest = divmod(bps, 100)
    return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"
