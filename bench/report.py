"""The bench's one table: rows from the results, printed with Rich and written to docs/benchmarks.md."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from tests.support import load

from bench import measure

LABELS = {
    "api": "API processes",
    "worker": "worker processes",
    "database": "PostgreSQL (postmaster + backends)",
    "sandbox": "sandbox process",
    "generator": "load generator process",
}
ROLES = list(LABELS)
DOCS = Path("docs/benchmarks.md")
BEGIN, END = "<!-- make bench: latest run (rewritten by each run) -->", "<!-- end of latest run -->"


@dataclass
class Result:
    """Every figure of one database's run."""

    backend: str
    shape: str
    durability: str = ""
    raw_commits: float = 0.0
    ledger_tps: float = 0.0
    trades: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    per_process_ms: dict[str, list[float]] = field(default_factory=dict)
    figures: load.Figures | None = None
    submit: tuple[float, float] = (math.nan, math.nan)
    single: load.Figures | None = None
    single_steps: list[tuple[str, float]] = field(default_factory=list)
    quotes: dict[int, dict[str, float]] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    setup_rss_mb: dict[str, float] = field(default_factory=dict)
    idle_ms_per_s: dict[str, float] = field(default_factory=dict)
    window_seconds: float = 0.0
    statements: dict[str, float] = field(default_factory=dict)
    """PostgreSQL, per paid trade over the trades' window: statements sent, of which control
    (BEGIN/COMMIT/SAVEPOINT…), the statements the server ran inside them (foreign-key checks),
    and transactions."""


def _ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:,.1f} ms"


def _idle_share(r: Result) -> float:
    paid = r.statuses.get("paid", 0) or 1
    return sum(r.idle_ms_per_s.get(role, 0.0) for role in ROLES[:3]) * r.window_seconds / paid


def _split(total: float, each: list[float]) -> str:
    if len(each) < 2:
        return f"{total:.1f}"
    return f"{total:.1f} ({' + '.join(f'{ms:.1f}' for ms in each)})"


def rows(results: list[Result]) -> list[tuple[str, list[str]]]:
    """The table's rows: a label, then one cell per database."""
    out: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Callable[[Result], str]) -> None:
        out.append((label, [cell(r) for r in results]))

    def cpu(r: Result, roles: list[str]) -> float:
        return sum(r.cpu_ms.get(role, 0.0) for role in roles)

    row("shape", lambda r: r.shape)
    row("durability", lambda r: r.durability)
    row("**CPU ms per trade: exchange (API + worker + DB)**", lambda r: f"**{cpu(r, ROLES[:3]):.1f}**")
    for role, label in LABELS.items():
        row(
            f"  CPU ms per trade: {label}",
            lambda r, role=role: (
                _split(r.cpu_ms[role], r.per_process_ms.get(role, [r.cpu_ms[role]]))
                if role in r.cpu_ms
                else "in the API process"
            ),
        )
    row("  CPU ms per trade: all processes", lambda r: f"{cpu(r, ROLES):.1f}")
    row(
        "idle CPU, ms per second (API + worker + DB), before the trades",
        lambda r: f"{sum(r.idle_ms_per_s.get(role, 0.0) for role in ROLES[:3]):.1f}",
    )
    row(
        "exchange CPU ms per trade less that idle rate over the window",
        lambda r: f"{cpu(r, ROLES[:3]) - _idle_share(r):.1f} (window {r.window_seconds:.0f} s)",
    )
    row(
        "PostgreSQL statements sent per trade (data + control) / transactions per trade, whole window",
        lambda r: (
            f"{r.statements['statements']:.1f} ({r.statements['statements'] - r.statements['control']:.1f}"
            f" + {r.statements['control']:.1f}) / {r.statements['transactions']:.1f}"
            if r.statements
            else "—"
        ),
    )
    row(
        "… statements PostgreSQL ran inside them per trade (foreign-key checks), whole window",
        lambda r: f"{r.statements.get('nested', 0):.1f}" if r.statements else "—",
    )
    row("trades paid / submitted", lambda r: f"{r.statuses.get('paid', 0):,} / {r.trades:,}")
    row("distinct client IPs seen", lambda r: f"{r.statuses.get('distinct client IPs', 0):,}")
    row(
        "trades/s (first submission → last settlement)",
        lambda r: f"{r.figures.trades_per_second:.1f}" if r.figures else "—",
    )
    row("raw single-row commits/s (one connection)", lambda r: f"{r.raw_commits:,.0f}")
    row(
        "ratio trades/s ÷ raw commits/s",
        lambda r: f"{r.figures.trades_per_second / r.raw_commits:.4f}" if r.figures else "—",
    )
    row(
        "under load: submitted → payout sent p50 / p99",
        lambda r: (
            f"{_ms(r.figures.p50_to_payout_sent)} / {_ms(r.figures.p99_to_payout_sent)}" if r.figures else "—"
        ),
    )
    row("under load: quote + submit HTTP p50 / p99", lambda r: f"{_ms(r.submit[0])} / {_ms(r.submit[1])}")
    row(
        "one at a time: submitted → payout sent p50 / p99",
        lambda r: (
            f"{_ms(r.single.p50_to_payout_sent)} / {_ms(r.single.p99_to_payout_sent)}" if r.single else "—"
        ),
    )
    step_names = list(dict.fromkeys(name for r in results for name, _ in r.single_steps))
    for name in step_names:
        row(
            f"one at a time, p50 of the step {name}",
            lambda r, name=name: next((_ms(v) for n, v in r.single_steps if n == name), "—"),
        )
    rates = sorted({rate for r in results for rate in r.quotes})
    for rate in rates:
        row(
            f"quotes at {rate}/s open loop: p50 / p99 (answered/s; errors; API CPU per quote;"
            " generator's share of a core)",
            lambda r, rate=rate: (
                f"{_ms(q['p50'])} / {_ms(q['p99'])} ({q['achieved']:.0f}/s; {q['errors']:.0f} errors;"
                f" {q['api_ms']:.1f} ms; {q['generator_core']:.0%})"
                if (q := r.quotes.get(rate))
                else "—"
            ),
        )
    row("ledger transfers/s (`ledger.write`, one connection)", lambda r: f"{r.ledger_tps:,.0f}")
    row("ratio ledger transfers/s ÷ raw commits/s", lambda r: f"{r.ledger_tps / r.raw_commits:.3f}")
    row(
        "peak RSS of the API during sign-ups (argon2id; before the trades)",
        lambda r: f"{r.setup_rss_mb['api']:,.0f} MB" if "api" in r.setup_rss_mb else "—",
    )
    for role, label in LABELS.items():
        row(
            f"peak RSS per process: {label}"
            + (" (largest; shared buffers included)" if role == "database" else " (largest)"),
            lambda r, role=role: f"{r.rss_mb[role]:,.0f} MB" if role in r.rss_mb else "—",
        )
    return out


def quote_table(r: Result) -> Table:
    """`--only quotes`: the open-loop quote rows and the API's peak RSS."""
    table = Table(title=f"{r.backend}: {r.shape}; quotes only")
    for column in (
        "quotes/s offered",
        "p50",
        "p99",
        "answered/s",
        "errors",
        "API CPU per quote",
        "database CPU per quote",
        "sellers",
        "generator",
    ):
        table.add_column(column, justify="right")
    for rate, q in sorted(r.quotes.items()):
        table.add_row(
            f"{rate}",
            _ms(q["p50"]),
            _ms(q["p99"]),
            f"{q['achieved']:.0f}",
            f"{q['errors']:.0f}",
            f"{q['api_ms']:.2f} ms",
            f"{q.get('db_ms', 0.0):.2f} ms",
            f"{q.get('sellers', 1):.0f}",
            f"{q['generator_core']:.0%}",
        )
    table.caption = f"peak RSS of the API processes (largest): {r.rss_mb.get('api', 0):,.0f} MB"
    return table


def render(results: list[Result], machine: measure.Machine, args: argparse.Namespace) -> tuple[Table, str]:
    """The Rich table for the terminal and the same table in Markdown."""
    title = f"{args.trades:,} trades; {machine.cores} cores, {machine.memory_gb:.0f} GB; {machine.date}"
    table = Table(title=title)
    table.add_column("figure")
    for r in results:
        table.add_column(r.backend, justify="right")
    body = rows(results)
    for label, cells in body:
        table.add_row(label.replace("**", ""), *[c.replace("**", "").replace("`", "") for c in cells])
    lines = [
        f"Measured {machine.date} on {machine.cores} cores ({machine.cpu_model}), "
        f"{machine.memory_gb:.1f} GB, Linux {machine.kernel}. Command: `python -m bench.scale_out {' '.join(args.argv)}` (what `make bench` runs).",
        "",
        "| figure | " + " | ".join(r.backend for r in results) + " |",
        "|---|" + "---:|" * len(results),
        *[f"| {label.strip()} | " + " | ".join(cells) + " |" for label, cells in body],
    ]
    return table, "\n".join(lines)


def write_docs(markdown: str, path: Path = DOCS) -> None:
    """Replace the latest-run section of docs/benchmarks.md (the rest is written by people)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{markdown}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Latest run\n\n" + block + "\n"
    path.write_text(text)
