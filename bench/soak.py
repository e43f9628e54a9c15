"""`make soak`: many trades through each deployment, memory and CPU sampled per block.

Two deployments, one after the other, each up to `--trades` trades or `--minutes` minutes
(whichever comes first; the block that passes the time budget is the last one):

- the embedded default: one `serve --demo` (SQLite, sandboxes mounted, the demo's SMTP
  catcher, 2 in-process worker threads), as `bench.embedded` runs it;
- PostgreSQL: a throwaway durable server from the machine's `pg_ctl`, `--apis` API processes
  (`serve --no-worker`), `--workers` worker processes and a sandbox process, as
  `bench.deployment` runs them for `make bench`.

Each trade is what a seller does: a quote, the submission, and a page following the trade
until it is paid (conditional GETs every `--poll` seconds). Trades run in blocks of
`--every`; before each block its sellers and vouchers are made (not measured: sign-ups
hash passwords); after it, every process's RSS (VmRSS) and its CPU per trade over the
block are sampled. PostgreSQL's CPU is its whole process tree; its RSS is not plotted
(shared buffers count in every backend's RSS).

The verdict: over the last 10,000 trades of a run (the last half if it reached fewer than
20,000) every process's RSS stays within ±5% of its value at the window's start.

`--tracemalloc` traces the `serve` processes' heaps (VX_TRACEMALLOC=1: a snapshot on each
SIGUSR1, taken after every block) and prints the biggest growths, first block → end and
middle → end: what still grows late is a leak, what grew only early is warming. It slows
the servers: its CPU figures are not the soak's.

    .venv/bin/python -m bench.soak --trades 20000 --minutes 15
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from tests.support.polling import poll_until
from tests.support.postgres import create_database, start_server, stop_server

from bench import generator, measure
from bench.deployment import deploy
from bench.embedded import Follower, start, stop
from bench.soak_report import Run, Sample, markdown, print_run, verdicts, write_png

console = Console()
DEPLOYMENTS = ("embedded", "postgresql")


@dataclass
class Target:
    """A running deployment as the soak sees it: where to send trades, which pids to sample."""

    name: str
    shape: str
    api_urls: list[str]
    sandbox_url: str
    processes: dict[str, int]  # RSS and CPU sampled per process
    trees: dict[str, int] = field(default_factory=dict)  # CPU of a whole tree (PostgreSQL)
    traced: dict[str, Path] = field(default_factory=dict)  # tracemalloc'd process → its var/

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far, per process (or tree)."""
        found = {name: measure.cpu_seconds(pid) for name, pid in self.processes.items()}
        return found | {name: measure.tree_cpu_seconds(pid) for name, pid in self.trees.items()}

    def rss(self) -> dict[str, float]:
        """VmRSS now, per process, in MB."""
        return {name: measure.rss_mb(pid) for name, pid in self.processes.items()}

    def snapshot(self, n: int) -> Path | None:
        """The first traced process's tracemalloc snapshot number `n` (SIGUSR1), once written."""
        if not self.traced:
            return None
        name, var_dir = next(iter(self.traced.items()))
        path = var_dir / f"tracemalloc-{n}.snap"
        os.kill(self.processes[name], signal.SIGUSR1)
        poll_until(lambda: path.with_suffix(".done").exists(), 300, 0.2, what=str(path))
        return path


def _trace_env() -> dict[str, str]:
    """Trace from the start with 4 frames: `serve` asks for 12 when it finds tracing off, which
    slows it several times over; 4 name the allocating line and its callers well enough."""
    return {"VX_TRACEMALLOC": "1", "PYTHONTRACEMALLOC": "4"}


@contextmanager
def embedded(base: Path, trace: bool) -> Iterator[Target]:
    """`serve --demo` on SQLite, as a user runs it."""
    server = start(base, _trace_env() if trace else None)
    try:
        yield Target(
            name="embedded default",
            shape="1 `serve --demo` process (SQLite, sandboxes mounted, SMTP catcher, 2 worker threads)",
            api_urls=[server.url],
            sandbox_url=server.sandbox,
            processes={"serve": server.proc.pid},
            traced={"serve": server.var_dir} if trace else {},
        )
    finally:
        stop(server)


@contextmanager
def postgresql(base: Path, trace: bool, apis: int, workers: int) -> Iterator[Target]:
    """Durable PostgreSQL, API and worker processes and a sandbox, as `make bench` runs them."""
    server = start_server(durable=True)
    try:
        measure.assert_durable(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres")
        url = create_database(server, "vx_soak")
        extra = _trace_env() if trace else {}
        with deploy(base, url, apis, workers, extra_env=extra) as running:
            pids = running.pids()
            processes = {
                f"{role}-{n}": pid
                for role in ("api", "worker", "sandbox")
                for n, pid in enumerate(pids[role])
            }
            postmaster = int((Path(server.datadir) / "postmaster.pid").read_text().split()[0])
            yield Target(
                name="PostgreSQL",
                shape=f"{apis} API + {workers} worker processes (2 threads each), a sandbox process, durable PostgreSQL",
                api_urls=running.api_urls,
                sandbox_url=running.sandbox_url,
                processes=processes,
                trees={"postgresql": postmaster},
                traced={"api-0": base / "var"} if trace else {},
            )
    finally:
        stop_server(server)


def soak(
    target: Target,
    args: argparse.Namespace,
    progress: Progress,
    on_sample: Callable[[Run], None] | None = None,
) -> Run:
    """Blocks of trades until `--trades` or the time budget; a sample after each block."""
    run = Run(target.name, target.shape, args.trades, args.minutes)
    task = progress.add_task(target.name, total=args.trades, rss="")
    deadline = time.monotonic() + args.minutes * 60
    started = time.monotonic()
    snaps: list[Path] = []
    clients = generator.Clients()
    run.start_rss_mb = target.rss()
    try:
        done = 0
        while done < args.trades and time.monotonic() < deadline:
            size = min(args.every, args.trades - done)
            began = time.monotonic()
            try:
                sellers, codes = _make(target, clients, size, done)
                # Sign-up jobs (welcome notices) run behind the sign-ups: they finish outside the window.
                time.sleep(args.settle)
                cpu_before = target.cpu()
                _trades(target, clients, sellers, codes, args)
            except (RuntimeError, httpx.HTTPError) as exc:
                # The samples so far still stand, and the next deployment still runs.
                run.error = f"stopped in the block after {done:,} trades: {exc}"[:400]
                progress.console.print(f"{target.name}: {run.error}", markup=False)
                break
            cpu_after = target.cpu()
            done += size
            sample = Sample(
                trades=done,
                seconds=time.monotonic() - began,
                cpu_ms={k: (cpu_after[k] - cpu_before[k]) * 1000 / size for k in cpu_after},
                rss_mb=target.rss(),
            )
            run.samples.append(sample)
            biggest = max(sample.rss_mb.values())
            progress.update(task, completed=done, rss=f"largest RSS {biggest:.0f} MB")
            run.minutes_used = (time.monotonic() - started) / 60
            if on_sample is not None:
                on_sample(run)
            snap = target.snapshot(len(snaps) + 1) if args.tracemalloc else None
            if snap is not None:
                snaps.append(snap)
                heap = tracemalloc.Snapshot.load(str(snap)).statistics("filename")
                run.heap_mb.append((done, sum(stat.size for stat in heap) / 1e6))
    finally:
        clients.close()
    run.minutes_used = (time.monotonic() - started) / 60
    if len(snaps) >= 2:
        run.growth = _growth(snaps[0], snaps[-1], "traceback", 15)
        run.growth_late = _growth(snaps[len(snaps) // 2], snaps[-1], "lineno", 12)
        run.growth_span = (run.samples[0].trades, run.samples[len(snaps) // 2].trades, run.samples[-1].trades)
    return run


def _make(
    target: Target, clients: generator.Clients, size: int, first: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """The block's sellers (signed up, verified, a bank account each) and fresh vouchers."""
    spec = {
        "apis": target.api_urls,
        "sandbox": target.sandbox_url,
        "sellers": -(-size // generator.TRADES_PER_SELLER),
        "vouchers": size,
        "first": first,  # later blocks' sellers get new addresses and bank accounts
        # Fewer sign-ups at once than the password-hashing pool turns away, and on a crowded
        # machine a long wait rather than a failed soak.
        "threads": 4,
        "signup_patience": 600,
    }
    made = generator.setup(spec, clients, lambda _n: None)
    return made["sellers"], made["codes"]


def _trades(
    target: Target,
    clients: generator.Clients,
    sellers: list[dict[str, Any]],
    codes: list[str],
    args: argparse.Namespace,
) -> None:
    """Each code sold by a seller in turn, `--concurrency` at once, each followed until paid."""
    follower = Follower()
    apis = [url + "/api/v1" for url in target.api_urls]

    def one(i: int) -> None:
        seller = sellers[i % len(sellers)]
        http = clients.get(apis[i % len(apis)])
        trade_id = generator.sell(http, seller, codes[i])
        headers = {"Authorization": f"Bearer {seller['token']}", "X-Forwarded-For": seller["ip"]}
        status = follower.follow(http, headers, trade_id, args.poll)
        if status != "paid":
            raise RuntimeError(f"a soak trade ended {status}")

    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(one, range(len(codes))))


def _growth(first: Path, last: Path, key: str, top: int) -> list[str]:
    """The biggest heap growths between two snapshots, grouped by `key` (traceback or lineno)."""
    before = tracemalloc.Snapshot.load(str(first))
    after = tracemalloc.Snapshot.load(str(last))
    lines = []
    for stat in after.compare_to(before, key)[:top]:
        frames = [
            f"{f.filename.split('site-packages/')[-1].split('src/')[-1]}:{f.lineno}" for f in stat.traceback
        ]
        lines.append(
            f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
            + " < ".join(frames[-5:][::-1])
        )
    return lines


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags; MINUTES is per deployment."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=20_000, help="trades per deployment (default 20,000)")
    parser.add_argument(
        "--minutes",
        type=float,
        default=15.0,
        help="time budget per deployment; the block that passes it is the last",
    )
    parser.add_argument(
        "--deployments", default=",".join(DEPLOYMENTS), help="embedded, postgresql or both (default both)"
    )
    parser.add_argument("--every", type=int, default=1000, help="trades per sample (default 1,000)")
    parser.add_argument("--concurrency", type=int, default=16, help="sellers trading at once (default 16)")
    parser.add_argument("--poll", type=float, default=1.0, help="a page's seconds between conditional GETs")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds after the sign-ups, before the window"
    )
    parser.add_argument("--apis", type=int, default=2, help="API processes on PostgreSQL (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes on PostgreSQL (default 2)")
    parser.add_argument("--tracemalloc", action="store_true", help="trace the serve processes' heaps")
    parser.add_argument("--plot", type=Path, default=Path("docs/soak.png"))
    parser.add_argument("--json", type=Path, default=Path("docs/soak.json"), help="the samples, to redraw")
    parser.add_argument("--markdown", action="store_true", help="also print each run as a Markdown table")
    parser.add_argument("--replot", type=Path, help="redraw the plot and verdicts from a saved JSON; no soak")
    args = parser.parse_args(argv)
    unknown = set(args.deployments.split(",")) - set(DEPLOYMENTS)
    if unknown:
        parser.error(f"unknown deployments: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    m = measure.machine()
    if args.replot:
        saved = json.loads(args.replot.read_text())
        runs = [Run.from_json(r) for r in saved["runs"]]
        when = saved["when"]
    else:
        load = os.getloadavg()
        console.print(f"soak: {m.date}, {m.cores} cores, load {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
        runs: list[Run] = []
        base = Path(tempfile.mkdtemp(prefix="vx-soak-"))

        def save(done: list[Run]) -> None:
            """The samples so far, after every block: a soak that fails late keeps its figures."""
            if not args.tracemalloc:
                data = {"when": m.date, "cores": m.cores, "argv": argv, "runs": [asdict(r) for r in done]}
                args.json.write_text(json.dumps(data, indent=1))

        columns = (
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rss]}"),
        )
        with Progress(*columns, console=console) as progress:
            for name in args.deployments.split(","):
                where = base / name
                where.mkdir()
                opened = (
                    embedded(where, args.tracemalloc)
                    if name == "embedded"
                    else postgresql(where, args.tracemalloc, args.apis, args.workers)
                )
                with opened as target:
                    runs.append(soak(target, args, progress, lambda run: save([*runs, run])))
                progress.console.print(runs[-1].summary())
        when = m.date
        save(runs)
        console.print(f"logs and data: {base}")
    for run in runs:
        print_run(console, run)
    for line in verdicts(runs):
        console.print(line, markup=False, highlight=False)
    if args.markdown:
        for run in runs:
            print(markdown(run) + "\n")
    if args.tracemalloc:
        console.print("--tracemalloc: CPU slowed by tracing, no plot written")
        return
    write_png(runs, args.plot, when)
    console.print(f"plot: {args.plot} ({args.plot.stat().st_size // 1024} KB), samples: {args.json}")
    end = os.getloadavg()
    console.print(f"load average at the end: {end[0]:.1f} / {end[1]:.1f} / {end[2]:.1f}")


if __name__ == "__main__":
    main()
