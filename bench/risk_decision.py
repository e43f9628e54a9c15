"""`make bench-risk`: one risk decision's latency with 1,000,000 stored trades (SQLite).

Bulk-loads a synthetic history (100,000 sellers, their payout accounts, 1,000,000
trades over 90 days, with devices, IPs and issue dates), then times the engine's
whole decision — every feature query plus rule evaluation — for random trades, and for
trades of a hot brand: 100,000 trades of one brand in the last hour, a fifth of them from
one device behind one (NAT'd) IP address. The risk windows (migration 0017) are filled from
the loaded trades as an upgraded exchange's would be; on code before 0017 there are none.
"""

from __future__ import annotations

import argparse
import importlib.util
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
from sqlalchemy import Engine, select

from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import trades
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.ports.issuer import VoucherState, VoucherStatus
from voucher_exchange.risk import features, rules
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import Trade
from voucher_exchange.trades.pipeline import risk_subject

console = Console()
BRANDS = ["cultureland", "booknlife", "google-play-kr", "shinsegae", "lotte"]
STATUSES = ["paid"] * 90 + ["rejected"] * 6 + ["in_review"] * 2 + ["cancelled"] * 2
HOT_BRAND, HOT_DEVICE, HOT_IP = "cultureland", "dev-hot", "10.99.99.1"
WINDOWS_REVISION = migrate.MIGRATIONS / "versions" / "0017_risk_windows.py"


def _ts(at: datetime) -> str:
    return at.replace(tzinfo=None).isoformat(sep=" ")


def load(path: Path, sellers: int, total: int, hot: int, now: datetime, progress: Progress) -> None:
    """Bulk insert the synthetic history straight through sqlite3 (foreign keys off while loading)."""
    rng = random.Random(1)  # benchmark data only
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("PRAGMA synchronous=OFF")
    users = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(sellers)]
    task = progress.add_task("sellers", total=sellers)
    db.executemany(
        "INSERT INTO users (id, email, password_hash, roles, kyc_tier, identity_status, created_at)"
        " VALUES (?, ?, 'x', '', 1, 'verified', ?)",
        ((u, f"{u}@bench.test", _ts(now - timedelta(days=rng.uniform(1, 400)))) for u in users),
    )
    db.executemany(
        "INSERT INTO payout_destinations (id, user_id, kind, bank_code, account_number_enc, account_fingerprint,"
        " account_last4, holder_name, status, created_at)"
        " VALUES (?, ?, 'bank_account', '004', x'00', ?, '0000', 'x', 'verified', ?)",
        ((f"d-{u}", u, f"fp-{u}", _ts(now - timedelta(days=rng.uniform(1, 300)))) for u in users),
    )
    progress.update(task, completed=sellers)
    task = progress.add_task("trades", total=total + hot)
    batch = 50_000
    for start in range(0, total + hot, batch):
        rows_q, rows_t = [], []
        for i in range(start, min(start + batch, total + hot)):
            trade_id, quote_id = (
                str(uuid.UUID(int=rng.getrandbits(128))),
                str(uuid.UUID(int=rng.getrandbits(128))),
            )
            # Most sellers sell a few vouchers; 100 power sellers sell a few hundred each.
            user = users[rng.randrange(100)] if rng.random() < 0.02 else rng.choice(users)
            created = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            brand, ip = rng.choice(BRANDS), f"10.{rng.randrange(256)}.{rng.randrange(256)}.1"
            device = f"dev-{user[:8]}"
            if i >= total:  # the hot brand's last hour, 2,000 sellers; every fifth on one device and IP
                user, brand = users[rng.randrange(2000)], HOT_BRAND
                created = now - timedelta(seconds=rng.uniform(0, 3600))
                device, ip = (HOT_DEVICE, HOT_IP) if i % 5 == 0 else (f"dev-{user[:8]}", ip)
            face = rng.choice([10000, 30000, 50000, 100000])
            rows_q.append((quote_id, user, created))
            issued = _ts(created - timedelta(hours=rng.uniform(1, 2000)))
            row = (trade_id, user, quote_id, brand, face, rng.choice(STATUSES), f"d-{user}", ip)
            rows_t.append((*row, device, f"fp-{user}", issued, _ts(created)))
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


def fill_windows(path: Path, now: datetime) -> tuple[int, int] | None:
    """Fill the risk windows from the loaded trades with migration 0017's own backfill.

    The trades were bulk-loaded after migrating (as if the exchange had been upgraded with
    them stored); None on code from before the windows.
    """
    if not WINDOWS_REVISION.exists():
        return None
    spec = importlib.util.spec_from_file_location("risk_windows_revision", WINDOWS_REVISION)
    assert spec is not None and spec.loader is not None
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        counts, links = revision.backfill(conn, now)
    engine.dispose()
    db = sqlite3.connect(path)
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return int(counts), int(links)


def time_decisions(
    engine: Engine, picks: list[Trade], now: datetime, progress: Progress, name: str
) -> list[float]:
    """Milliseconds per whole decision (features + rules), each in its own read transaction."""
    ruleset = rules.default_ruleset()
    answer = VoucherStatus(VoucherState.ACTIVE, 50000, "KRW", now - timedelta(hours=30), "card", None)
    timings = []
    task = progress.add_task(name, total=len(picks))
    for trade in picks:
        start = time.perf_counter()
        with UnitOfWork(engine, readonly=True) as uow:
            facts = features.compute(
                uow.conn, risk_subject(trade), answer, now, "KR", trade.brand_slug == "google-play-kr"
            )
        rules.evaluate(ruleset, facts)
        timings.append((time.perf_counter() - start) * 1000)
        progress.advance(task)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--sellers", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=1_000)
    parser.add_argument("--hot", type=int, default=100_000, help="trades of one brand in the last hour")
    # Before the risk windows one hot decision took ~270 ms: 1,000 of them were 4.5 minutes.
    parser.add_argument("--hot-decisions", type=int, default=200)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="vx-risk-")) / "bench.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        load(path, args.sellers, args.trades, args.hot, now, progress)
        started = time.perf_counter()
        filled = fill_windows(path, now)
        fill_seconds = time.perf_counter() - started
        with UnitOfWork(engine, readonly=True) as uow:
            ids = uow.conn.execute(
                select(trades.c.id).order_by(trades.c.id).limit(args.decisions * 3)
            ).scalars()
            sample = [t for t in (trade_repo.get(uow.conn, i) for i in ids) if t is not None]
            hot_ids = uow.conn.execute(
                select(trades.c.id)
                .where((trades.c.device_id == HOT_DEVICE) & (trades.c.created_at >= now - timedelta(hours=1)))
                .order_by(trades.c.id)
                .limit(args.hot_decisions)
            ).scalars()
            hot_sample = [t for t in (trade_repo.get(uow.conn, i) for i in hot_ids) if t is not None]
        rng = random.Random(2)
        picks = rng.sample(sample, args.decisions)
        # Decided a few seconds after the load, as a real decision comes after its submission.
        decided = now + timedelta(seconds=5)
        timings = {
            "random trades": time_decisions(engine, picks, decided, progress, "decisions"),
            "hot brand + device": time_decisions(engine, hot_sample, decided, progress, "hot decisions"),
        }
    title = (
        f"one risk decision, SQLite, {args.trades + args.hot:,} stored trades ({args.hot:,} of one brand in"
        f" the last hour), {args.sellers:,} sellers"
    )
    table = Table(title=title)
    table.add_column("figure")
    for name in timings:
        table.add_column(name, justify="right")
    table.add_row("decisions timed", *(f"{len(t):,}" for t in timings.values()))
    for label, cut in (("p50", 49), ("p99", 98)):
        table.add_row(
            label, *(f"{quantiles(t, n=100, method='inclusive')[cut]:.2f} ms" for t in timings.values())
        )
    table.add_row("max", *(f"{max(t):.2f} ms" for t in timings.values()))
    console.print(table)
    if filled is None:
        console.print("risk windows: none (code before migration 0017); the features scan trades")
    else:
        console.print(
            f"risk windows filled from the last 31 days' trades in {fill_seconds:.1f} s:"
            f" {filled[0]:,} counter rows, {filled[1]:,} link rows"
        )


if __name__ == "__main__":
    main()
