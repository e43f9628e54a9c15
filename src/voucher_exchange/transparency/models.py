"""The transparency report over plain values: the period, the raw figures, and what may be published.

Raw figures are exact; `publish` applies the disclosure rule so that no figure describes
fewer than `threshold` events (a person could be recognised in it): a count of 1 to
threshold−1 becomes null, a larger one is rounded to `count_step`; money, times and shares
drawn from fewer events are null; refusal reasons seen fewer times fold into "other".
Zero stays zero: it describes nobody.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import Money

WINDOW_DAYS = 30
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Years a month may name: before 2000 nothing was traded, and 9999-12 has no following month.
_YEARS = range(2000, 9999)
OTHER = "other"


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC; `month` is "YYYY-MM" for a calendar month, None for the last 30 days.

    Both kinds end at the start of the current local day at the latest, so a report never
    changes within a day and two reports a few minutes apart cannot be subtracted to single
    out one trade.
    """

    start: datetime
    end: datetime
    month: str | None
    complete: bool
    """True when no later day can change it (a month that is over)."""


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def last_days(now: datetime, tz: str, days: int = WINDOW_DAYS) -> Period:
    """The `days` whole local days before today."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    return Period(_day_start(today - timedelta(days=days), zone), _day_start(today, zone), None, False)


def month_period(text: str, now: datetime, tz: str) -> Period:
    """A calendar month in local time, "YYYY-MM"; the current month runs to the start of today."""
    found = _MONTH.match(text)
    if found is None or int(found[1]) not in _YEARS or not 1 <= int(found[2]) <= 12:
        raise InvalidInput("transparency_month_invalid", "Give the month as YYYY-MM, e.g. 2026-11.", "month")
    zone = ZoneInfo(tz)
    year, month = int(found[1]), int(found[2])
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    today = now.astimezone(zone).date()
    if first > today:
        raise InvalidInput(
            "transparency_month_future", "That month has not begun; there is nothing to report yet.", "month"
        )
    end = min(following, today)
    return Period(_day_start(first, zone), _day_start(end, zone), text, following <= today)


@dataclass(frozen=True)
class Flow:
    """Money that moved in the period: how many transfers and their total (minor units)."""

    count: int
    amount: int


@dataclass(frozen=True)
class AuditHead:
    """The newest audit entry before the period's end."""

    id: int
    hash: str
    at: datetime


@dataclass(frozen=True)
class PromiseFigures:
    """Payout-promise misses and the compensation paid for them."""

    misses: int
    compensation: Flow


@dataclass(frozen=True)
class IssuerPause:
    """An issuer's brands paused or suspended by the issuer guard: why (the signal's code, and the
    sentence sellers saw in Korean and English), from when, and until when (None: it still stood at
    the period's end)."""

    issuer: str
    brands: tuple[str, ...]
    action: str
    reason: str
    reason_text: dict[str, str]
    at: datetime
    until: datetime | None


@dataclass(frozen=True)
class FraudFigures:
    """Fraud reports received, and the freezes of the period: how many, and the median time from
    their report."""

    reports: int
    freezes: int
    median_report_to_freeze_seconds: float | None


@dataclass(frozen=True)
class Percentiles:
    """Nearest-rank percentiles of a sample of durations (seconds) and its size."""

    count: int
    p50: float | None
    p95: float | None = None


@dataclass(frozen=True)
class RawFigures:
    """Exact figures for a period, straight from the tables. None: not recorded yet."""

    currency: str
    submitted: int
    held: int
    paid: Flow
    paid_seconds: Percentiles
    review_seconds: Percentiles
    refusals: Mapping[str, int]
    reversals: int
    receivables: Flow
    recovered: Flow
    written_off: Flow
    audit_head: AuditHead | None
    promise: PromiseFigures | None
    issuer_pauses: list[IssuerPause] | None
    fraud: FraudFigures | None


def nearest_rank(count: int, percent: int) -> int:
    """The 1-based rank of the `percent`th percentile among `count` ordered values (nearest rank)."""
    return max(1, -(-percent * count // 100))


@dataclass(frozen=True)
class Disclosure:
    """What may be published: nothing drawn from 1 to `threshold`−1 events; counts and money rounded."""

    threshold: int = 10
    count_step: int = 5
    money_steps: Mapping[str, int] = field(default_factory=lambda: {"KRW": 10_000, "USD": 10_000})
    """Money is rounded to this many minor units: ₩10,000 or $100."""

    def _hidden(self, events: int) -> bool:
        return 0 < events < self.threshold

    def count(self, n: int) -> int | None:
        """0 as is; fewer than the threshold hidden; otherwise to the nearest `count_step` (halves up)."""
        if self._hidden(n):
            return None
        return (n + self.count_step // 2) // self.count_step * self.count_step

    def money(self, flow: Flow, currency: str) -> dict[str, int | str] | None:
        """A total of `flow.count` transfers, rounded to the currency's step; hidden when too few."""
        if self._hidden(flow.count):
            return None
        step = self.money_steps.get(currency, 1)
        return Money((flow.amount + step // 2) // step * step, currency).as_json()

    def seconds(self, sample: Percentiles, value: float | None) -> int | None:
        """A time in whole seconds (halves up), from at least `threshold` durations."""
        if value is None or sample.count < self.threshold:
            return None
        return int(value + 0.5)

    def share(self, part: int, whole: int) -> float | None:
        """part / whole to the whole percent (halves up); hidden when either describes too few."""
        if whole == 0 or self._hidden(whole) or self._hidden(part):
            return None
        percent = (200 * part + whole) // (2 * whole)
        return percent / 100

    def by_reason(self, counts: Mapping[str, int]) -> dict[str, int | None]:
        """Reasons seen fewer than `threshold` times fold into "other" (itself hidden when still too few)."""
        shown: dict[str, int] = {}
        other = 0
        for reason, n in counts.items():
            if reason != OTHER and n >= self.threshold:
                shown[reason] = n
            else:
                other += n
        if other:
            shown[OTHER] = other
        return {reason: self.count(n) for reason, n in sorted(shown.items())}

    def describe(self, currency: str) -> dict[str, Any]:
        """The rule, as the JSON states it."""
        return {
            "threshold": self.threshold,
            "count_step": self.count_step,
            "money_step": Money(self.money_steps.get(currency, 1), currency).as_json(),
        }


DISCLOSURE = Disclosure()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def publish(raw: RawFigures, period: Period, rule: Disclosure = DISCLOSURE) -> dict[str, Any]:
    """The public document (`GET /transparency.json`): the raw figures under the disclosure rule."""
    cur = raw.currency
    promise, fraud = raw.promise, raw.fraud
    return {
        "period": {
            "from": _iso(period.start),
            "to": _iso(period.end),
            "month": period.month,
            "complete": period.complete,
        },
        "currency": cur,
        "submitted": rule.count(raw.submitted),
        "trades": rule.count(raw.paid.count),
        "volume": rule.money(raw.paid, cur),
        "paid_p50_seconds": rule.seconds(raw.paid_seconds, raw.paid_seconds.p50),
        "paid_p95_seconds": rule.seconds(raw.paid_seconds, raw.paid_seconds.p95),
        "held_share": rule.share(raw.held, raw.submitted),
        "median_review_seconds": rule.seconds(raw.review_seconds, raw.review_seconds.p50),
        "refusals_by_reason": rule.by_reason(raw.refusals),
        "reversals": rule.count(raw.reversals),
        "receivables": rule.money(raw.receivables, cur),
        "recovered": rule.money(raw.recovered, cur),
        "written_off": rule.money(raw.written_off, cur),
        "promise_misses": None if promise is None else rule.count(promise.misses),
        "compensation_paid": None if promise is None else rule.money(promise.compensation, cur),
        # Actions on businesses, not people: published in full.
        "issuer_pauses": None
        if raw.issuer_pauses is None
        else [
            {
                "issuer": p.issuer,
                "brands": list(p.brands),
                "action": p.action,
                "reason": p.reason,
                "reason_text": p.reason_text,
                "at": _iso(p.at),
                "until": None if p.until is None else _iso(p.until),
            }
            for p in raw.issuer_pauses
        ],
        "fraud_reports": None if fraud is None else rule.count(fraud.reports),
        "median_report_to_freeze_seconds": None
        if fraud is None
        else rule.seconds(
            Percentiles(fraud.freezes, fraud.median_report_to_freeze_seconds),
            fraud.median_report_to_freeze_seconds,
        ),
        "audit_head": None
        if raw.audit_head is None
        else {"id": raw.audit_head.id, "hash": raw.audit_head.hash, "at": _iso(raw.audit_head.at)},
        "disclosure": rule.describe(cur),
    }


def unrecorded(raw: RawFigures) -> frozenset[str]:
    """The document's fields that are null because nothing records them yet (not because they are hidden)."""
    names: set[str] = set()
    if raw.promise is None:
        names |= {"promise_misses", "compensation_paid"}
    if raw.issuer_pauses is None:
        names.add("issuer_pauses")
    if raw.fraud is None:
        names |= {"fraud_reports", "median_report_to_freeze_seconds"}
    return frozenset(names)
