"""Dashboard arithmetic over plain values: daily volume, decision rates, time to paid, margin."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class TradeFact:
    """What the dashboard needs of one paid trade."""

    created_at: datetime
    local_day: date
    brand: str
    face_value: int
    fee: int
    paid_at: datetime


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


def summarise(
    paid: list[TradeFact], submitted: int, decisions: dict[str, int], today: date, days: int
) -> Dashboard:
    """Fold the window's paid trades, its submission count and its decision counts into the dashboard."""
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    volume: dict[date, dict[str, int]] = {d: defaultdict(int) for d in span}
    for fact in paid:
        if fact.local_day in volume:
            volume[fact.local_day][fact.brand] += fact.face_value
    waits = sorted((f.paid_at - f.created_at).total_seconds() for f in paid)
    return Dashboard(
        days=span,
        brands=sorted({f.brand for f in paid}),
        volume={d: dict(v) for d, v in volume.items()},
        decisions=dict(decisions),
        paid=len(paid),
        submitted=submitted,
        median_seconds=percentile(waits, 50),
        p95_seconds=percentile(waits, 95),
        margin=sum(f.fee for f in paid),
    )
