"""Charts as plain SVG shapes computed on the server: no chart library, nothing to download."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from voucher_exchange.reports.models import Dashboard

# Colour-blind-safe palette (Okabe–Ito).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
WIDTH, HEIGHT, GAP = 600, 180, 2


@dataclass(frozen=True)
class Bar:
    """One rectangle of a stacked bar."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart: bars, a legend, its size."""

    bars: list[Bar]
    legend: list[tuple[str, str]]
    width: int = WIDTH
    height: int = HEIGHT


def volume_chart(
    board: Dashboard, name: Callable[[str], str] = str, amount: Callable[[int], str] = str
) -> Chart:
    """Paid volume per day, one colour per brand; `name` and `amount` word the legend and tooltips."""
    colours = {b: PALETTE[i % len(PALETTE)] for i, b in enumerate(board.brands)}
    slot = WIDTH / max(len(board.days), 1)
    peak = board.peak or 1
    bars = []
    for i, day in enumerate(board.days):
        top = float(HEIGHT)
        for brand, paid in sorted(board.volume.get(day, {}).items()):
            height = HEIGHT * paid / peak
            top -= height
            bars.append(
                Bar(
                    i * slot + GAP / 2,
                    top,
                    slot - GAP,
                    height,
                    colours[brand],
                    f"{day} {name(brand)} {amount(paid)}",
                )
            )
    return Chart(bars, [(name(brand), colour) for brand, colour in colours.items()])


@dataclass(frozen=True)
class ExposureChart:
    """Exposure per day as bars (the day's peak), with the limit as a line (None: no limit)."""

    bars: list[Bar]
    limit_y: float | None
    width: int = WIDTH
    height: int = HEIGHT


def exposure_chart(
    days: Sequence[date],
    points: Sequence[Mapping[str, Any]],
    limit: int | None,
    amount: Callable[[int], str] = str,
) -> ExposureChart:
    """One bar per day (its peak exposure), scaled so the limit line fits; red bars reached the limit."""
    by_day = {p["day"]: int(p["peak"]) for p in points}
    top = max([*by_day.values(), limit or 0, 1])
    slot = WIDTH / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        peak = by_day.get(day)
        if peak is None:
            continue
        height = HEIGHT * peak / top
        colour = "#D55E00" if limit is not None and peak >= limit else "#0072B2"
        bars.append(
            Bar(i * slot + GAP / 2, HEIGHT - height, slot - GAP, height, colour, f"{day} {amount(peak)}")
        )
    limit_y = HEIGHT - HEIGHT * limit / top if limit is not None else None
    return ExposureChart(bars, limit_y)
