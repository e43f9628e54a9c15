"""`make bench`: end-to-end throughput and latency on PostgreSQL, next to the raw commit rate.

Starts a durable PostgreSQL (fsync on), measures its raw single-row commit rate, then
runs 2 API and 3 worker processes and pushes trades through them. The figure that
matters is the ratio: end-to-end trades/s ÷ raw commits/s, measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from tests.support import load
from tests.support.cluster import cluster
from tests.support.postgres import create_database, start_server, stop_server

from voucher_exchange.db.engine import make_engine

console = Console()


def raw_commit_rate(url: str, commits: int, progress: Progress) -> float:
    """Single-row INSERT + COMMIT, one connection, one row at a time: the database's floor."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    task = progress.add_task("raw commits", total=commits)
    with psycopg.connect(conninfo) as conn:
        conn.execute("CREATE TABLE bench_commits (id bigserial PRIMARY KEY, v integer NOT NULL)")
        conn.commit()
        start = time.perf_counter()
        for i in range(commits):
            conn.execute("INSERT INTO bench_commits (v) VALUES (%s)", (i,))
            conn.commit()
            progress.advance(task)
        return commits / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=2000)
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--single", type=int, default=100, help="trades sent one at a time for latency")
    args = parser.parse_args()
    server = start_server(durable=True)
    try:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            commits = raw_commit_rate(create_database(server, "vx_bench_raw"), 2000, progress)
            url = create_database(server, "vx_bench")
            with cluster(Path(tempfile.mkdtemp(prefix="vx-bench-")), url, args.apis, args.workers) as running:
                submitted = progress.add_task("trades submitted", total=args.trades)
                settled = progress.add_task("trades finished", total=args.trades + 21)
                engine = make_engine(url)
                load.push(
                    running.api_urls,
                    running.sandbox_url,
                    args.trades,
                    on_submitted=lambda n: progress.update(submitted, completed=n),
                )
                while (open_now := load.open_trades(engine)) > 0:
                    progress.update(settled, completed=args.trades + 21 - open_now)
                    time.sleep(0.5)  # a progress display, not a test
                progress.update(settled, completed=args.trades + 21)
                result = load.figures(engine)
                idle = progress.add_task("one at a time", total=args.single)
                # Honest sellers take turns (four sales each) so no rule holds them.
                turns = range(-(-args.single // load.TRADES_PER_SELLER))
                sellers = [
                    load.new_seller(running.api_urls[0], running.sandbox_url, 100_000 + k) for k in turns
                ]

                def wait_paid(trade_id: str) -> None:
                    while load.open_trades(engine):
                        time.sleep(0.005)  # a benchmark's wait, not a test
                    progress.advance(idle)

                single = load.figures(
                    engine,
                    load.one_at_a_time(
                        running.api_urls[0], running.sandbox_url, sellers, args.single, wait_paid
                    ),
                )
                engine.dispose()
    finally:
        stop_server(server)
    table = Table(title=f"PostgreSQL, {args.apis} API + {args.workers} worker processes, 2 cores")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("raw single-row commits/s", f"{commits:,.0f}")
    table.add_row("trades paid", f"{result.paid:,}")
    table.add_row("end-to-end trades/s", f"{result.trades_per_second:,.1f}")
    table.add_row("ratio trades/s ÷ commits/s", f"{result.trades_per_second / commits:.4f}")
    table.add_row("saturated: submitted → payout sent, p50", f"{result.p50_to_payout_sent * 1000:,.0f} ms")
    table.add_row("saturated: submitted → payout sent, p99", f"{result.p99_to_payout_sent * 1000:,.0f} ms")
    table.add_row(
        "one at a time: submitted → payout sent, p50", f"{single.p50_to_payout_sent * 1000:,.0f} ms"
    )
    table.add_row(
        "one at a time: submitted → payout sent, p99", f"{single.p99_to_payout_sent * 1000:,.0f} ms"
    )
    console.print(table)


if __name__ == "__main__":
    main()
