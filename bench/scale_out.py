"""`make bench`: CPU per trade per process, throughput and latency, on durable PostgreSQL and SQLite.

For each database: the raw durable commit rate (one row per commit, one connection);
the ledger's transfers/s through its own `write` on one connection; then the exchange
as separate processes (PostgreSQL: 2 API + 3 worker processes; SQLite: one `serve`
with its worker threads; a sandbox process either way) and a load generator in its own
process, once per worker batch size (`--batch-sizes`, default 1 and 8: what batching
buys). The headline is CPU milliseconds per paid trade for each kind of process,
read from /proc before and after the trades (see `bench/measure.py`). Beside it:
trades/s, submission → payout-sent latency under load and one at a time, quote latency
from an open-loop generator at fixed rates, and each process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from tests.support import load
from tests.support.postgres import create_database, start_server, stop_server

from bench import measure, phases
from bench.deployment import Deployment, deploy
from bench.generator import TRADES_PER_SELLER
from bench.report import DOCS, Result, quote_table, render, write_docs
from voucher_exchange.db.engine import make_engine

console = Console()
_pause = threading.Event()  # never set: a bounded wait


class Generator:
    """One run of `python -m bench.generator` (its own process), driven line by line."""

    def __init__(self, spec: dict[str, Any], base: Path) -> None:
        spec_file = base / f"generator-{spec['mode']}-{time.monotonic_ns()}.json"
        spec_file.write_text(json.dumps(spec))
        self.proc = subprocess.Popen(  # noqa: S603  # our own generator module
            [sys.executable, "-m", "bench.generator", str(spec_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout
        if json.loads(self.stdout.readline() or '{"event": "died"}')["event"] != "ready":
            raise RuntimeError("the generator did not start")

    def run(self, progress: Callable[[int], None]) -> dict[str, Any]:
        """Let it go; report its progress; return its result."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        for line in self.stdout:
            event = json.loads(line)
            if event["event"] == "progress":
                progress(event["done"])
            elif event["event"] == "result":
                self.proc.wait(timeout=60)
                result: dict[str, Any] = event
                return result
        raise RuntimeError(f"the generator exited with {self.proc.wait()} and no result")


def _cpu_each(roots: dict[str, list[int]]) -> dict[str, list[float]]:
    return {role: [measure.tree_cpu_seconds(pid) for pid in pids] for role, pids in roots.items()}


def _cpu(roots: dict[str, list[int]]) -> dict[str, float]:
    return {role: sum(each) for role, each in _cpu_each(roots).items()}


def _roots(running: Deployment, postmaster: int | None) -> dict[str, list[int]]:
    roots = running.pids()
    if postmaster is not None:
        roots["database"] = [postmaster]
    return roots


def _postmaster(datadir: str) -> int:
    return int((Path(datadir) / "postmaster.pid").read_text().split()[0])


@contextmanager
def _bars() -> Iterator[Progress]:
    columns = (TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        yield progress


def _task(progress: Progress, label: str, total: int) -> tuple[Callable[[], None], Callable[[int], None]]:
    task = progress.add_task(label, total=total)
    return (lambda: progress.advance(task)), (lambda n: progress.update(task, completed=n))


def run_backend(
    args: argparse.Namespace,
    backend: str,
    base: Path,
    database_url: Callable[[str], str],
    postmaster: int | None,
) -> list[Result]:
    """Every phase on one database: one result per worker batch size."""
    shape = (
        f"{args.apis} API + {args.workers} worker processes (2 threads each)"
        if backend == "PostgreSQL"
        else "1 `serve` process with 2 worker threads"
    )
    if args.only == "quotes":
        shape = f"{args.apis} API processes" if backend == "PostgreSQL" else "1 `serve` process"
        result = Result(backend, shape)
        with _bars() as progress:
            url = database_url("vx_bench")
            # One worker (for the seller's checks, if any); on SQLite the `serve` shape as always.
            with deploy(
                base / backend.lower(), url, args.apis, 1 if backend == "PostgreSQL" else 0
            ) as running:
                _quote_phases(args, progress, running, result)
        return [result]
    results = []
    with _bars() as progress:
        tick, _ = _task(progress, f"{backend}: raw commits", args.raw_commits)
        raw = phases.raw_commits(database_url("vx_bench_raw"), args.raw_commits, tick)
        tick, _ = _task(progress, f"{backend}: ledger transfers", args.transfers)
        ledger_tps = phases.ledger_transfers(database_url("vx_bench_ledger"), args.transfers, tick)
        for n, batch in enumerate(args.batch_sizes):
            result = Result(f"{backend}, batch {batch}", f"{shape}; worker batch size {batch}")
            result.raw_commits, result.ledger_tps = raw, ledger_tps
            url = database_url(f"vx_bench_b{batch}")
            progress.console.print(f"{backend}: starting {shape} (batch {batch}) and a sandbox")
            workers = args.workers if backend == "PostgreSQL" else 0
            with deploy(base / f"{backend.lower()}-b{batch}", url, args.apis, workers, batch) as running:
                # The quote phase does not depend on the batch size: it runs with the last one.
                quotes = n == len(args.batch_sizes) - 1
                _exchange_phases(args, progress, running, url, postmaster, result, quotes)
            results.append(result)
    return results


def _exchange_phases(
    args: argparse.Namespace,
    progress: Progress,
    running: Deployment,
    url: str,
    postmaster: int | None,
    result: Result,
    quotes: bool = True,
) -> None:
    base = running.base
    singles = args.single
    sellers_needed = -(-args.trades // TRADES_PER_SELLER) + -(-singles // TRADES_PER_SELLER) + 1
    common = {"apis": running.api_urls, "sandbox": running.sandbox_url}
    _, update = _task(progress, "sellers and vouchers (not measured)", sellers_needed + args.trades + singles)
    made = Generator(
        {"mode": "setup", **common, "sellers": sellers_needed, "vouchers": args.trades + singles}, base
    ).run(update)
    trade_sellers = made["sellers"][: -(-args.trades // TRADES_PER_SELLER)]
    single_sellers = made["sellers"][len(trade_sellers) : -1]
    quote_seller = made["sellers"][-1]
    codes, single_codes = made["codes"][: args.trades], made["codes"][args.trades :]
    engine = make_engine(url)
    generator_rss: list[float] = []
    try:
        spec = {"mode": "trades", **common, "sellers": trade_sellers, "codes": codes, "threads": args.threads}
        generator = Generator(spec, base)
        roots = _roots(running, postmaster)
        # Sign-ups hash passwords with argon2id (memory-hard): that peak is reported apart,
        # and the peaks below start afresh for the trades.
        result.setup_rss_mb = {
            role: max(measure.tree_peak_rss_mb(p) for p in pids) for role, pids in roots.items()
        }
        for pids in roots.values():
            for pid in pids:
                measure.reset_peak_rss(pid)
        # What the processes burn doing nothing (polls, timers): on a crowded machine the
        # trades take longer, and this part of their CPU grows with the wall clock, not the work.
        idle_start, idle_clock = _cpu(roots), time.perf_counter()
        _pause.wait(args.idle_seconds)  # measuring idleness: nothing to poll for
        idle_end, idle_span = _cpu(roots), time.perf_counter() - idle_clock
        result.idle_ms_per_s = {r: (idle_end[r] - idle_start[r]) * 1000 / idle_span for r in roots}
        _, submitted = _task(progress, "trades submitted", args.trades)
        _, settled = _task(progress, "trades settled", args.trades)
        counted = phases.statement_counts(url)
        before, window_start = _cpu_each(roots), time.perf_counter()
        # The generator runs while this thread watches the database settle.
        outcome: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: outcome.update(generator.run(submitted)))
        thread.start()
        phases.wait_settled(engine, args.trades, settled, timeout=args.trades * 2 + 120)
        thread.join()
        after, result.window_seconds = _cpu_each(roots), time.perf_counter() - window_start
        counted_after = phases.statement_counts(url)
        ids: list[str] = outcome["trade_ids"]
        result.trades = len(ids)
        result.statuses = phases.status_counts(engine, ids)
        paid = result.statuses.get("paid", 0)
        if counted is not None and counted_after is not None and paid:
            result.statements = {k: (counted_after[k] - counted[k]) / paid for k in counted}
        result.per_process_ms = {
            role: [(a - b) * 1000 / paid for a, b in zip(after[role], before[role], strict=True)]
            for role in before
        }
        result.cpu_ms = {role: sum(each) for role, each in result.per_process_ms.items()}
        result.cpu_ms["generator"] = outcome["cpu_seconds"] * 1000 / paid
        result.figures = load.figures(engine, set(ids))
        result.submit = measure.p50_p99(outcome["submit_seconds"])
        generator_rss.append(outcome["peak_rss_mb"])

        tick, _ = _task(progress, "one at a time", singles)
        single_ids = phases.one_at_a_time(engine, running.api_urls[0], single_sellers, single_codes, tick)
        result.single = load.figures(engine, set(single_ids))
        result.single_steps = phases.steps(engine, single_ids)

        if quotes:
            generator_rss += _quotes(args, progress, running, roots["api"], quote_seller["token"], result)

        result.rss_mb = {
            role: max(measure.tree_peak_rss_mb(pid) for pid in pids)
            for role, pids in _roots(running, postmaster).items()
        }
        result.rss_mb["generator"] = max(generator_rss)
    finally:
        engine.dispose()


def _quote_phases(args: argparse.Namespace, progress: Progress, running: Deployment, result: Result) -> None:
    """`--only quotes`: one seller, then the open-loop quote phase alone (no workers, no trades)."""
    _, update = _task(progress, "seller (not measured)", 2)
    common = {"apis": running.api_urls, "sandbox": running.sandbox_url}
    made = Generator({"mode": "setup", **common, "sellers": 1, "vouchers": 0}, running.base).run(update)
    api_pids = running.pids()["api"]
    for pid in api_pids:
        measure.reset_peak_rss(pid)
    _quotes(args, progress, running, api_pids, made["sellers"][-1]["token"], result)
    result.rss_mb = {"api": max(measure.tree_peak_rss_mb(pid) for pid in api_pids)}


def _quotes(
    args: argparse.Namespace,
    progress: Progress,
    running: Deployment,
    api_pids: list[int],
    token: str,
    result: Result,
) -> list[float]:
    """Open-loop quotes at each rate; returns the generators' peak RSS."""
    peaks = []
    for rate in args.rates:
        requests = int(rate * args.quote_seconds)
        _, update = _task(progress, f"quotes at {rate}/s (open loop)", requests)
        spec = {"mode": "quotes", "apis": running.api_urls, "token": token, "rate": rate}
        spec |= {"seconds": args.quote_seconds, "threads": args.quote_threads}
        generator = Generator(spec, running.base)
        api_before = _cpu({"api": api_pids})["api"]
        quoted = generator.run(update)
        api_cpu = _cpu({"api": api_pids})["api"] - api_before
        p50, p99 = measure.p50_p99(quoted["latencies"])
        result.quotes[rate] = {
            "p50": p50,
            "p99": p99,
            "errors": quoted["errors"],
            "achieved": len(quoted["latencies"]) / quoted["seconds"],
            "api_ms": api_cpu * 1000 / requests,
            "generator_core": quoted["cpu_seconds"] / quoted["seconds"],
        }
        peaks.append(quoted["peak_rss_mb"])
    return peaks


def parse(argv: list[str]) -> argparse.Namespace:
    """Flags, with defaults that finish in under ten minutes on two cores."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=800, help="trades through the exchange (default 800)")
    parser.add_argument("--single", type=int, default=40, help="trades sent one at a time (default 40)")
    parser.add_argument("--apis", type=int, default=2, help="API processes on PostgreSQL (default 2)")
    parser.add_argument("--workers", type=int, default=3, help="worker processes on PostgreSQL (default 3)")
    parser.add_argument("--threads", type=int, default=12, help="generator threads for trades (default 12)")
    parser.add_argument(
        "--batch-sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 8],
        help="worker batch sizes to run the trades with, each in a fresh deployment (default 1,8)",
    )
    parser.add_argument("--raw-commits", type=int, default=2000)
    parser.add_argument("--transfers", type=int, default=1000, help="ledger transfers (default 1000)")
    parser.add_argument(
        "--rates", type=lambda s: [int(x) for x in s.split(",")], default=[100, 200, 500], help="quotes/s"
    )
    parser.add_argument("--quote-seconds", type=float, default=4.0, help="seconds at each quote rate")
    parser.add_argument("--quote-threads", type=int, default=64)
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle CPU sampled before the trades")
    parser.add_argument("--backends", default="postgresql,sqlite", help="postgresql, sqlite or both")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--only",
        choices=["all", "quotes"],
        default="all",
        help="'quotes': only the open-loop quote phase against the API processes (prints, never writes docs)",
    )
    args = parser.parse_args(argv)
    if args.only != "all":
        args.no_docs = True
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    machine = measure.machine()
    base = Path(tempfile.mkdtemp(prefix="vx-bench-"))
    results = []
    backends = args.backends.split(",")
    if "postgresql" in backends:
        server = start_server(durable=True)
        try:
            admin = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
            settings = measure.assert_durable(admin)
            done = run_backend(
                args,
                "PostgreSQL",
                base,
                lambda name: create_database(server, name),
                _postmaster(server.datadir),
            )
            for result in done:
                result.durability = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
            results += done
        finally:
            stop_server(server)
    if "sqlite" in backends:
        sqlite_dir = base / "sqlite-files"
        sqlite_dir.mkdir()
        done = run_backend(args, "SQLite", base, lambda name: f"sqlite:///{sqlite_dir}/{name}.db", None)
        for result in done:
            result.durability = "WAL, synchronous=NORMAL (the project's pragmas)"
        results += done
    if args.only == "quotes":
        for result in results:
            console.print(quote_table(result))
        console.print(f"logs and data: {base}")
        return
    table, markdown = render(results, machine, args)
    console.print(table)
    console.print(f"logs and data: {base}")
    if not args.no_docs:
        write_docs(markdown)
        console.print(f"written to {DOCS}")


if __name__ == "__main__":
    main()
