"""Dashboard arithmetic over plain values: daily volume, decision rates, time to paid, margin."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class TradeFact:
    """What the dashboard needs of one trade."""

    created_at: datetime
    local_day: date
    brand: str
    face_value: int
    fee: int
    status: str
    paid_at: datetime | None


@dataclass
class Dashboard:
    """The last N days at a glance."""

    days: list[date]
    brands: list[str]
    # volume[day][brand] = face value of trades paid, by the day they were submitted
    volume: dict[date, dict[str, int]] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    paid: int = 0
    submitted: int = 0
    median_seconds: float | None = None
    p95_seconds: float | None = None
    margin: int = 0

    @property
    def decision_total(self) -> int:
        """Trades the risk engine decided."""
        return sum(self.decisions.values())

    def share(self, outcome: str) -> float:
        """The share of decisions with this outcome (0–1)."""
        total = self.decision_total
        return self.decisions.get(outcome, 0) / total if total else 0.0

    @property
    def peak(self) -> int:
        """The largest day's volume (the chart's scale)."""
        return max((sum(v.values()) for v in self.volume.values()), default=0)


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(facts: list[TradeFact], outcomes: list[str], today: date, days: int) -> Dashboard:
    """Fold trades and risk outcomes into the dashboard."""
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    volume: dict[date, dict[str, int]] = {d: defaultdict(int) for d in span}
    waits = []
    margin = paid = 0
    for fact in facts:
        if fact.status != "paid" or fact.paid_at is None:
            continue
        paid += 1
        margin += fact.fee
        if fact.local_day in volume:
            volume[fact.local_day][fact.brand] += fact.face_value
        waits.append((fact.paid_at - fact.created_at).total_seconds())
    waits.sort()
    decisions: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        decisions[outcome] += 1
    return Dashboard(
        days=span,
        brands=sorted({f.brand for f in facts if f.status == "paid"}),
        volume={d: dict(v) for d, v in volume.items()},
        decisions=dict(decisions),
        paid=paid,
        submitted=len(facts),
        median_seconds=percentile(waits, 50),
        p95_seconds=percentile(waits, 95),
        margin=margin,
    )
