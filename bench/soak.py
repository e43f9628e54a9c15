"""A soak of the embedded default: many trades through one `serve --demo`, memory and CPU sampled.

The same server and trades as `bench.embedded` (quote, submission, a page following the
trade with conditional GETs, notices to the demo's SMTP catcher), in blocks of `--every`
trades until `--trades` or `--minutes` is reached, whichever comes first. Before each block
the sellers and vouchers it needs are made (not measured: sign-ups hash passwords); after
it, the server's RSS (VmRSS) and its CPU per trade over the block are sampled. The result
is a table and an SVG plot (`--plot`, docs/soak.svg by default).

`--tracemalloc` runs the server with tracemalloc on (VX_TRACEMALLOC=1: it writes a snapshot
on SIGUSR1) and prints the 15 biggest growths between the end of the first block and the end.

    .venv/bin/python -m bench.soak --trades 20000 --minutes 20
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from tests.support.polling import poll_until

from bench import generator
from bench.embedded import Follower, Server, start, stop
from bench.measure import machine

console = Console()


@dataclass(frozen=True)
class Sample:
    """One block's figures."""

    trades: int  # trades done so far
    cpu_ms_per_trade: float  # server CPU over this block ÷ its trades
    rss_mb: float  # server VmRSS after it
    seconds: float  # the block's wall time


def _block(
    server: Server, clients: generator.Clients, size: int, first: int, follow: float, threads: int
) -> float:
    """Make `size` trades' sellers and vouchers, then run and follow the trades; returns CPU s."""
    spec = {
        "apis": [server.url],
        "sandbox": server.sandbox,
        "sellers": -(-size // generator.TRADES_PER_SELLER),
        "vouchers": size,
        "first": first,
    }
    made = generator.setup(spec, clients, lambda _n: None)
    sellers, codes = made["sellers"], made["codes"]
    follower = Follower()

    def one(i: int) -> None:
        seller = sellers[i % len(sellers)]
        http = clients.get(server.api)
        trade_id = generator.sell(http, seller, codes[i])
        headers = {"Authorization": f"Bearer {seller['token']}", "X-Forwarded-For": seller["ip"]}
        status = follower.follow(http, headers, trade_id, follow)
        if status != "paid":
            raise RuntimeError(f"a soak trade ended {status}")

    before = server.cpu()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(size)))
    return server.cpu() - before


def _snapshot(server: Server, n: int) -> Path:
    """Ask the server for a tracemalloc snapshot (SIGUSR1); wait until it is written."""
    path = server.var_dir / f"tracemalloc-{n}.snap"
    server.proc.send_signal(signal.SIGUSR1)
    poll_until(lambda: path.exists() and (path.with_suffix(".done")).exists(), 120, 0.2, what=str(path))
    return path


def _growth(first: Path, last: Path) -> list[str]:
    before = tracemalloc.Snapshot.load(str(first))
    after = tracemalloc.Snapshot.load(str(last))
    stats = after.compare_to(before, "traceback")
    lines = []
    for stat in stats[:15]:
        frames = [
            f"{f.filename.split('site-packages/')[-1].split('src/')[-1]}:{f.lineno}" for f in stat.traceback
        ]
        lines.append(
            f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
            + " < ".join(frames[-4:][::-1])
        )
    return lines


def svg(samples: list[Sample], title: str) -> str:
    """Two panels (RSS MB, CPU ms per trade) against trades, hand-drawn SVG."""
    width, height, pad = 720, 520, 60
    panel = (height - 3 * pad) / 2
    xs = [s.trades for s in samples]
    x_max = max(xs) if xs else 1

    def x(v: float) -> float:
        return pad + (width - 2 * pad) * v / x_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
    ]
    for row, (label, values, colour) in enumerate(
        (
            ("server RSS (MB)", [s.rss_mb for s in samples], "#0072B2"),
            ("server CPU ms per trade", [s.cpu_ms_per_trade for s in samples], "#D55E00"),
        )
    ):
        top = pad + row * (panel + pad)
        low, high = 0.0, max(values) * 1.15 if values else 1.0

        def y(v: float, top: float = top, low: float = low, high: float = high) -> float:
            return top + panel - panel * (v - low) / (high - low)

        parts.append(f'<text x="{pad}" y="{top - 8}">{label}</text>')
        parts.append(
            f'<line x1="{pad}" y1="{top + panel}" x2="{width - pad}" y2="{top + panel}" stroke="#333"/>'
            f'<line x1="{pad}" y1="{top}" x2="{pad}" y2="{top + panel}" stroke="#333"/>'
        )
        for tick in range(5):
            value = low + (high - low) * tick / 4
            parts.append(
                f'<text x="{pad - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.0f}</text>'
                f'<line x1="{pad}" y1="{y(value):.1f}" x2="{width - pad}" y2="{y(value):.1f}" stroke="#ddd"/>'
            )
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(xs, values, strict=True))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for t, v in zip(xs, values, strict=True):
            parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        for t in xs:
            parts.append(f'<text x="{x(t):.1f}" y="{top + panel + 16}" text-anchor="middle">{t:,}</text>')
    parts.append(f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">trades</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def run(args: argparse.Namespace) -> tuple[list[Sample], list[str]]:
    """The soak; returns the samples and, with --tracemalloc, the biggest growths."""
    samples: list[Sample] = []
    growth: list[str] = []
    deadline = time.monotonic() + args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="vx-soak-") as tmp:
        server = start(Path(tmp), {"VX_TRACEMALLOC": "1"} if args.tracemalloc else None)
        clients = generator.Clients()
        snaps: list[Path] = []
        try:
            columns = (
                TextColumn("soak"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[rss]}"),
            )
            with Progress(*columns, console=console) as progress:
                task = progress.add_task("trades", total=args.trades, rss="")
                done = 0
                while done < args.trades and time.monotonic() < deadline:
                    size = min(args.every, args.trades - done)
                    began = time.monotonic()
                    cpu = _block(server, clients, size, done, args.poll, args.concurrency)
                    done += size
                    samples.append(Sample(done, cpu * 1000 / size, server.rss_mb(), time.monotonic() - began))
                    progress.update(task, completed=done, rss=f"RSS {samples[-1].rss_mb:.0f} MB")
                    if args.tracemalloc and len(samples) == 1:
                        snaps.append(_snapshot(server, 1))
            if args.tracemalloc and snaps:
                growth = _growth(snaps[0], _snapshot(server, 2))
        finally:
            clients.close()
            stop(server)
    return samples, growth


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trades", type=int, default=20_000)
    parser.add_argument("--minutes", type=float, default=20.0, help="stop after the block that passes this")
    parser.add_argument("--every", type=int, default=1000, help="trades per sample")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--poll", type=float, default=1.0, help="a page's seconds between conditional GETs")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="diff the server's heap, first block → end"
    )
    parser.add_argument("--plot", type=Path, default=Path("docs/soak.svg"))
    args = parser.parse_args()
    m = machine()
    load = os.getloadavg()
    samples, growth = run(args)
    table = Table(title=f"soak, embedded default: {m.date}, {m.cores} cores, load {load[0]:.1f} at the start")
    for column in ("trades", "CPU ms per trade (block)", "RSS MB", "block s"):
        table.add_column(column, justify="right")
    for s in samples:
        table.add_row(f"{s.trades:,}", f"{s.cpu_ms_per_trade:.1f}", f"{s.rss_mb:.1f}", f"{s.seconds:.0f}")
    console.print(table)
    if len(samples) >= 2:
        half = samples[len(samples) // 2 :]
        first, last = half[0].rss_mb, half[-1].rss_mb
        console.print(
            f"RSS over the last half ({half[0].trades:,} → {half[-1].trades:,} trades):"
            f" {first:.1f} → {last:.1f} MB ({(last - first) / first:+.1%})"
        )
    for line in growth:
        console.print(line, markup=False, highlight=False)
    title = f"Embedded default soak ({samples[-1].trades:,} trades, {m.date})" if samples else "soak"
    args.plot.write_text(svg(samples, title))
    console.print(f"plot: {args.plot}")
    after_load = os.getloadavg()
    console.print(f"load average at the end: {after_load[0]:.1f} / {after_load[1]:.1f} / {after_load[2]:.1f}")


if __name__ == "__main__":
    main()
