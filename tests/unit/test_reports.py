"""The dashboard's arithmetic: volume per day and brand, decision shares, time to paid, margin."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from voucher_exchange.reports.models import TradeFact, percentile, summarise
from voucher_exchange.web.charts import HEIGHT, volume_chart

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def _fact(day: int, brand: str, face: int, fee: int, seconds: float) -> TradeFact:
    created = T0 + timedelta(days=day)
    return TradeFact(created, created.date(), brand, face, fee, created + timedelta(seconds=seconds))


def test_the_dashboard_sums_paid_volume_by_day_and_brand() -> None:
    paid = [
        _fact(0, "cultureland", 50000, 4500, 1.0),
        _fact(0, "cultureland", 10000, 1000, 3.0),
        _fact(0, "booknlife", 5000, 550, 2.0),
        _fact(2, "booknlife", 10000, 1100, 10.0),
    ]
    decisions = {"approve": 6, "review": 3, "reject": 1}
    board = summarise(paid, 5, decisions, date(2026, 11, 22), 3)
    assert board.days == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    assert board.volume == {
        date(2026, 11, 20): {"cultureland": 60000, "booknlife": 5000},
        date(2026, 11, 21): {},
        date(2026, 11, 22): {"booknlife": 10000},
    }
    assert (board.paid, board.submitted, board.margin) == (4, 5, 7150)
    assert (board.median_seconds, board.p95_seconds) == (2.0, 10.0)
    assert (board.share("approve"), board.share("review"), board.share("reject")) == (0.6, 0.3, 0.1)
    assert board.peak == 65000
    chart = volume_chart(board)
    first_day = [b for b in chart.bars if b.x < 200]
    assert sum(b.height for b in first_day) == HEIGHT
    assert [brand for brand, _ in chart.legend] == ["booknlife", "cultureland"]


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile([], 50)) == (50.0, 95.0, None)
