"""The soak's figures: samples per run, the flat-memory verdict, the table and the PNG plot."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

WINDOW = 10_000  # the acceptance: RSS flat over the last 10,000 trades of a 20,000-trade run
TOLERANCE = 0.05  # ±5%


@dataclass(frozen=True)
class Sample:
    """One block's figures."""

    trades: int  # trades done so far
    seconds: float  # the block's wall time, sign-ups included
    cpu_ms: dict[str, float]  # CPU over the block's trades ÷ its trades, per process (or tree)
    rss_mb: dict[str, float]  # VmRSS after the block, per process


@dataclass
class Run:
    """One deployment's soak."""

    name: str
    shape: str
    target: int  # trades asked for
    minutes: float  # the time budget
    samples: list[Sample] = field(default_factory=list)
    start_rss_mb: dict[str, float] = field(default_factory=dict)  # before the first trade
    minutes_used: float = 0.0
    growth: list[str] = field(default_factory=list)  # tracemalloc, first block → end
    growth_late: list[str] = field(default_factory=list)  # tracemalloc, middle → end
    growth_span: tuple[int, int, int] = (0, 0, 0)
    heap_mb: list[tuple[int, float]] = field(default_factory=list)  # tracemalloc: (trades, traced MB)
    error: str = ""  # why the run stopped early, if it failed

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        """A run saved by the soak (`--json`)."""
        samples = [Sample(**s) for s in data.pop("samples")]
        data["growth_span"] = tuple(data.get("growth_span", (0, 0, 0)))
        data["heap_mb"] = [tuple(pair) for pair in data.get("heap_mb", [])]
        return cls(samples=samples, **data)

    @property
    def reached(self) -> int:
        return self.samples[-1].trades if self.samples else 0

    def summary(self) -> str:
        """How far it got, and why it stopped."""
        why = "all of them" if self.reached >= self.target else f"the {self.minutes:g}-minute budget ran out"
        if self.error:
            why = self.error
        return (
            f"{self.name}: {self.reached:,} of {self.target:,} trades in {self.minutes_used:.1f} min ({why})"
        )


@dataclass(frozen=True)
class Verdict:
    """Flat memory for one process over a run's window."""

    run: str
    process: str
    first_trades: int
    last_trades: int
    start_mb: float
    low_mb: float
    high_mb: float
    end_mb: float

    @property
    def worst(self) -> float:
        """The sample furthest from the window's start, as a fraction of it (signed)."""
        up, down = self.high_mb / self.start_mb - 1, self.low_mb / self.start_mb - 1
        return up if abs(up) >= abs(down) else down

    @property
    def passed(self) -> bool:
        """Within ±5%, judged to a hundredth of a percent (210 MB over 200 is exactly 5%)."""
        return round(abs(self.worst), 4) <= TOLERANCE


def window(run: Run) -> list[Sample]:
    """The samples of the last 10,000 trades (the last half of a shorter run), start included."""
    if len(run.samples) < 2:
        return []
    span = min(WINDOW, run.reached // 2)
    start = run.reached - span
    return [s for s in run.samples if s.trades >= start]


def judge(run: Run) -> list[Verdict]:
    """Each process's RSS over the window: start, lowest, highest, end."""
    samples = window(run)
    if not samples:
        return []
    return [
        Verdict(
            run.name,
            process,
            samples[0].trades,
            samples[-1].trades,
            samples[0].rss_mb[process],
            min(s.rss_mb[process] for s in samples),
            max(s.rss_mb[process] for s in samples),
            samples[-1].rss_mb[process],
        )
        for process in samples[0].rss_mb
    ]


def verdicts(runs: list[Run]) -> list[str]:
    """PASS/FAIL lines, one per process, with the figures behind them."""
    lines = []
    for run in runs:
        found = judge(run)
        if not found:
            lines.append(f"{run.name}: too few samples for a verdict ({len(run.samples)})")
            continue
        span = found[0].last_trades - found[0].first_trades
        short = (
            ""
            if span >= WINDOW
            else f" (shorter than the acceptance's {WINDOW:,}: the run reached {run.reached:,})"
        )
        lines.append(
            f"{run.name}: RSS over trades {found[0].first_trades:,} → {found[0].last_trades:,}{short}"
        )
        for v in found:
            lines.append(
                f"  {'PASS' if v.passed else 'FAIL'} {v.process:<10} start {v.start_mb:6.1f} MB,"
                f" low {v.low_mb:6.1f}, high {v.high_mb:6.1f}, end {v.end_mb:6.1f}"
                f"  worst {v.worst:+.1%} (limit ±{TOLERANCE:.0%})"
            )
    return lines


def print_run(console: Console, run: Run) -> None:
    """The run's samples as a table."""
    if not run.samples:
        console.print(f"{run.name}: no samples")
        return
    cpu_names = list(run.samples[0].cpu_ms)
    rss_names = list(run.samples[0].rss_mb)
    table = Table(title=f"{run.name}: {run.shape}")
    table.add_column("trades", justify="right")
    for name in cpu_names:
        table.add_column(f"{name} CPU ms/trade", justify="right")
    for name in rss_names:
        table.add_column(f"{name} RSS MB", justify="right")
    table.add_column("block s", justify="right")
    for s in run.samples:
        table.add_row(
            f"{s.trades:,}",
            *(f"{s.cpu_ms[n]:.1f}" for n in cpu_names),
            *(f"{s.rss_mb[n]:.1f}" for n in rss_names),
            f"{s.seconds:.0f}",
        )
    console.print(table)
    console.print(run.summary())
    if run.heap_mb:
        traced = ", ".join(f"{trades:,}: {mb:.1f}" for trades, mb in run.heap_mb)
        console.print(f"Python heap traced by tracemalloc (MB after trades): {traced}")
    if run.growth:
        first, middle, last = run.growth_span
        console.print(f"tracemalloc, biggest growths after {first:,} → {last:,} trades (by traceback):")
        for line in run.growth:
            console.print("  " + line, markup=False, highlight=False)
        console.print(f"tracemalloc, biggest growths {middle:,} → {last:,} trades (by line):")
        for line in run.growth_late:
            console.print("  " + line, markup=False, highlight=False)


def write_png(runs: list[Run], path: Path, when: str) -> None:
    """RSS per process (top) and CPU ms per trade per process (bottom), one column per deployment."""
    fig = Figure(figsize=(6.0 * len(runs), 7.0))
    FigureCanvasAgg(fig)  # the Agg backend: no display, no pyplot state
    axes = fig.subplots(2, len(runs), squeeze=False, sharex="col")
    for col, run in enumerate(runs):
        xs = [s.trades for s in run.samples]
        rss, cpu = axes[0][col], axes[1][col]
        for name in run.samples[0].rss_mb if run.samples else []:
            at = [0, *xs] if name in run.start_rss_mb else xs
            values = [s.rss_mb[name] for s in run.samples]
            values = [run.start_rss_mb[name], *values] if name in run.start_rss_mb else values
            rss.plot(at, values, marker="o", markersize=3, label=name)
        for name in run.samples[0].cpu_ms if run.samples else []:
            cpu.plot(xs, [s.cpu_ms[name] for s in run.samples], marker="o", markersize=3, label=name)
        band = window(run)
        if band:
            rss.axvspan(band[0].trades, band[-1].trades, color="0.92", zorder=0, label="verdict window")
        rss.set_title(f"{run.name}: {run.reached:,} trades in {run.minutes_used:.0f} min", fontsize=10)
        rss.set_ylabel("RSS (MB)")
        rss.set_ylim(0, max((max(s.rss_mb.values()) for s in run.samples), default=1.0) * 1.25)
        cpu.set_ylabel("CPU ms per trade (per block)")
        cpu.set_ylim(0, max((max(s.cpu_ms.values()) for s in run.samples), default=1.0) * 1.25)
        cpu.set_xlabel("trades")
        for ax in (rss, cpu):
            ax.grid(True, color="0.85", linewidth=0.5)
            ax.legend(fontsize=7, loc="lower left", ncol=3)
    fig.suptitle(f"Soak, {when}: RSS and CPU per 1,000 trades", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def markdown(run: Run) -> str:
    """The run's samples as a Markdown table, for docs/benchmarks.md."""
    if not run.samples:
        return f"{run.name}: no samples"
    cpu_names = list(run.samples[0].cpu_ms)
    rss_names = list(run.samples[0].rss_mb)
    head = [
        "trades",
        *(f"{n} CPU ms/trade" for n in cpu_names),
        *(f"{n} RSS MB" for n in rss_names),
        "block s",
    ]
    lines = [
        f"**{run.name}** ({run.shape}): {run.summary().split(': ', 1)[1]}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---:|" * len(head),
    ]
    if run.start_rss_mb:
        blank = ["–"] * len(cpu_names)
        start = [f"{run.start_rss_mb[n]:.1f}" for n in rss_names]
        lines.append("| " + " | ".join(["0 (started)", *blank, *start, "–"]) + " |")
    for s in run.samples:
        cells = [
            f"{s.trades:,}",
            *(f"{s.cpu_ms[n]:.1f}" for n in cpu_names),
            *(f"{s.rss_mb[n]:.1f}" for n in rss_names),
            f"{s.seconds:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
