"""`make bench-risk`: one risk decision's latency with 1,000,000 stored trades (SQLite).

Bulk-loads a synthetic history (100,000 sellers, their payout accounts, 1,000,000
trades over 90 days, with devices, IPs and issue dates), then times the engine's
whole decision — every feature query plus rule evaluation — for random trades.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import quantiles

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import trades
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.issuers.ports import VoucherState, VoucherStatus
from voucher_exchange.risk import features, rules
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.pipeline import risk_subject

console = Console()
BRANDS = ["cultureland", "booknlife", "google-play-kr", "shinsegae", "lotte"]
STATUSES = ["paid"] * 90 + ["rejected"] * 6 + ["in_review"] * 2 + ["cancelled"] * 2


def _ts(at: datetime) -> str:
    return at.replace(tzinfo=None).isoformat(sep=" ")


def load(path: Path, sellers: int, total: int, progress: Progress) -> None:
    """Bulk insert the synthetic history straight through sqlite3 (foreign keys off while loading)."""
    rng = random.Random(1)  # benchmark data only
    now = datetime.now(UTC)
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("PRAGMA synchronous=OFF")
    users = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(sellers)]
    task = progress.add_task("sellers", total=sellers)
    db.executemany(
        "INSERT INTO users (id, email, password_hash, roles, kyc_tier, identity_status, sanctions_strength,"
        " created_at) VALUES (?, ?, 'x', '', 1, 'verified', 'none', ?)",
        ((u, f"{u}@bench.test", _ts(now - timedelta(days=rng.uniform(1, 400)))) for u in users),
    )
    db.executemany(
        "INSERT INTO payout_destinations (id, user_id, kind, bank_code, account_number_enc, account_fingerprint,"
        " account_last4, holder_name, status, sanctions_strength, created_at)"
        " VALUES (?, ?, 'bank_account', '004', x'00', ?, '0000', 'x', 'verified', 'none', ?)",
        ((f"d-{u}", u, f"fp-{u}", _ts(now - timedelta(days=rng.uniform(1, 300)))) for u in users),
    )
    progress.update(task, completed=sellers)
    task = progress.add_task("trades", total=total)
    batch = 50_000
    for start in range(0, total, batch):
        rows_q, rows_t = [], []
        for _ in range(min(batch, total - start)):
            trade_id, quote_id = (
                str(uuid.UUID(int=rng.getrandbits(128))),
                str(uuid.UUID(int=rng.getrandbits(128))),
            )
            # Most sellers sell a few vouchers; 100 power sellers sell a few hundred each.
            user = users[rng.randrange(100)] if rng.random() < 0.02 else rng.choice(users)
            created = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            face = rng.choice([10000, 30000, 50000, 100000])
            rows_q.append((quote_id, user, created))
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.1"
            issued = _ts(created - timedelta(hours=rng.uniform(1, 2000)))
            row = (trade_id, user, quote_id, rng.choice(BRANDS), face, rng.choice(STATUSES), f"d-{user}", ip)
            rows_t.append((*row, f"dev-{user[:8]}", f"fp-{user}", issued, _ts(created)))
        db.executemany(
            "INSERT INTO quotes (id, user_id, brand_slug, currency, face_value, rate_version, rate_bps, fee, payout,"
            " created_at, expires_at, trade_id) VALUES (?, ?, 'cultureland', 'KRW', 10000, 1, 9000, 1000, 9000,"
            " ?, ?, NULL)",
            ((q, u, _ts(c), _ts(c)) for q, u, c in rows_q),
        )
        db.executemany(
            "INSERT INTO trades (id, user_id, quote_id, brand_slug, currency, face_value, rate_bps, fee, payout,"
            " status, voucher_enc, voucher_fingerprint, voucher_last4, acquisition_method, acquired_on,"
            " payout_destination_id, client_ip, device_id, account_fingerprint, issued_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 'KRW', ?, 9000, 0, 0, ?, x'00', 'fp', '0000', 'gift', '2026-01-01', ?, ?, ?, ?,"
            " ?, ?, ?)",
            ((*r, r[-1]) for r in rows_t),
        )
        db.commit()
        progress.advance(task, len(rows_t))
    db.execute("ANALYZE")
    db.commit()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--sellers", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=2_000)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="vx-risk-")) / "bench.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        load(path, args.sellers, args.trades, progress)
        ruleset = rules.default_ruleset()
        with UnitOfWork(engine, readonly=True) as uow:
            ids = uow.conn.execute(
                select(trades.c.id).order_by(trades.c.id).limit(args.decisions * 3)
            ).scalars()
            sample = [t for t in (trade_repo.get(uow.conn, i) for i in ids) if t is not None]
        rng = random.Random(2)
        picks = rng.sample(sample, args.decisions)
        now = datetime.now(UTC)
        answer = VoucherStatus(VoucherState.ACTIVE, 50000, "KRW", now - timedelta(hours=30), "card", None)
        timings = []
        task = progress.add_task("decisions", total=len(picks))
        for trade in picks:
            start = time.perf_counter()
            with UnitOfWork(engine, readonly=True) as uow:
                facts = features.compute(
                    uow.conn, risk_subject(trade), answer, now, "KR", trade.brand_slug == "google-play-kr"
                )
            rules.evaluate(ruleset, facts)
            timings.append((time.perf_counter() - start) * 1000)
            progress.advance(task)
    cuts = quantiles(timings, n=100, method="inclusive")
    table = Table(title=f"one risk decision, SQLite, {args.trades:,} stored trades, {args.sellers:,} sellers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("decisions timed", f"{len(timings):,}")
    table.add_row("p50", f"{cuts[49]:.2f} ms")
    table.add_row("p99", f"{cuts[98]:.2f} ms")
    table.add_row("max", f"{max(timings):.2f} ms")
    console.print(table)


if __name__ == "__main__":
    main()
