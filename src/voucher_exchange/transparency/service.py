"""The public transparency report: one read-only use case, cached so that a public URL cannot load the DB."""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from voucher_exchange.context import Context
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.transparency import figures
from voucher_exchange.transparency.models import Period, last_days, month_period, publish, unrecorded

# A report still growing (the last 30 days, this month) is computed at most every 5 minutes per
# process; a month that is over does not change, and is kept for a day.
OPEN_SECONDS = 300
COMPLETE_SECONDS = 86_400
_KEPT = 256  # reports per database: every month since 2006, then the oldest go


@dataclass(frozen=True)
class Report:
    """The period and its public document (the JSON `GET /transparency.json` answers)."""

    period: Period
    document: dict[str, Any]
    unrecorded: frozenset[str]
    """Fields that are null because nothing records them yet (the page says so)."""


class _Cache:
    """Reports per database and period, with an expiry; one computation at a time per process."""

    def __init__(self) -> None:
        self._by_engine: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[Any, ...], tuple[float, Report]]]
        self._by_engine = weakref.WeakKeyDictionary()
        # Held while computing: a burst of requests for a missing report runs its queries once.
        self._lock = threading.Lock()

    def get(self, engine: Engine, key: tuple[Any, ...], ttl: float, compute: Any) -> Report:
        with self._lock:
            kept = self._by_engine.setdefault(engine, OrderedDict())
            found = kept.get(key)
            if found is not None and found[0] > time.monotonic():
                kept.move_to_end(key)
                return found[1]
            report: Report = compute()
            kept[key] = (time.monotonic() + ttl, report)
            kept.move_to_end(key)
            while len(kept) > _KEPT:
                kept.popitem(last=False)
            return report

    def clear(self) -> None:
        """Forget every report (tests that move the clock)."""
        with self._lock:
            self._by_engine.clear()


CACHE = _Cache()


def period_for(ctx: Context, month: str | None) -> Period:
    """The period a request names: a calendar month ("YYYY-MM"), or the last 30 days."""
    tz = JURISDICTION_TZ[ctx.settings.jurisdiction]
    now = ctx.clock.now()
    return last_days(now, tz) if month is None else month_period(month.strip(), now, tz)


def transparency_report(ctx: Context, month: str | None = None) -> Report:
    """The public report for a month or the last 30 days (cached; see OPEN_SECONDS)."""
    period = period_for(ctx, month)
    currency = ctx.settings.currency
    tz = JURISDICTION_TZ[ctx.settings.jurisdiction]

    def compute() -> Report:
        with ctx.uow(readonly=True) as uow:
            raw = figures.raw_figures(uow.conn, period, currency, tz)
        return Report(period, publish(raw, period), unrecorded(raw))

    key = (period.start, period.end, currency)
    return CACHE.get(ctx.engine, key, COMPLETE_SECONDS if period.complete else OPEN_SECONDS, compute)
