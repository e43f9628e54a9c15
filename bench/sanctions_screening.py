"""`make bench-risk` (second part): sanctions screening on the real 2024 OFAC SDN list (SQLite).

Times screening one name (Korean customers with dates of birth, and listed names) and a full
list load: parse and store the 2024 list, build the matcher, re-screen 10,000 stored customers.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import quantiles

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import insert

from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import payout_destinations, users
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.risk.sanctions import SanctionsScreen
from voucher_exchange.risk.sanctions_identifiers import PersonFacts
from voucher_exchange.risk.sanctions_list import load, parse_sdn
from voucher_exchange.risk.sanctions_rescreen import rescreen

console = Console()
SDN_2024 = Path(__file__).resolve().parents[1] / "data" / "ofac" / "sdn-2024-05-03.csv.gz"
# One Hangul syllable each: common surnames, and syllables of common given names.
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍전고문양손배백허유남"
SYLLABLES = "영철은정성훈길민준서연지수빈현우동미상희광일명혜종경호윤태선"


def korean_people(count: int, rng: random.Random) -> list[tuple[str, date]]:
    """Common surnames with two-syllable given names, each with a plausible birth date."""
    names = [s + a + b for s, a, b in itertools.product(SURNAMES, SYLLABLES, SYLLABLES) if a != b]
    return [
        (rng.choice(names), date(rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28)))
        for _ in range(count)
    ]


def store_customers(engine_url: str, people: list[tuple[str, date]]) -> None:
    """Verified customers, each with a verified bank account in the same name."""
    engine = make_engine(engine_url)
    now = datetime.now(UTC)
    rows, accounts = [], []
    for n, (name, born) in enumerate(people):
        user_id = str(uuid.uuid4())
        rows.append(
            {
                "id": user_id, "email": f"c{n}@bench.test", "password_hash": "x", "kyc_tier": 1,
                "legal_name": name, "birth_date": born, "nationality": "KR", "identity_status": "verified",
                "created_at": now - timedelta(days=30),
            }
        )  # fmt: skip
        accounts.append(
            {
                "id": f"d-{user_id}", "user_id": user_id, "kind": "bank_account", "bank_code": "004",
                "account_number_enc": b"\x00", "account_fingerprint": f"fp-{user_id}", "account_last4": "0000",
                "holder_name": name, "status": "verified", "created_at": now,
            }
        )  # fmt: skip
    with UnitOfWork(engine) as uow:
        uow.conn.execute(insert(users), rows)
        uow.conn.execute(insert(payout_destinations), accounts)
        uow.commit()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--names", type=int, default=2_000)
    args = parser.parse_args()
    if not SDN_2024.exists():
        raise SystemExit(f"the OFAC snapshot is missing: {SDN_2024}")
    rng = random.Random(7)  # benchmark data only
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='vx-sanctions-')) / 'bench.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    store_customers(url, korean_people(args.customers, rng))
    text = gzip.decompress(SDN_2024.read_bytes()).decode("latin-1")

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    started = time.perf_counter()
    with UnitOfWork(engine) as uow:
        summary = load(uow.conn, text, None, SDN_2024.name, datetime.now(UTC))
        loaded = time.perf_counter()
        screen = SanctionsScreen.from_db(uow.conn)
        built = time.perf_counter()
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("re-screening customers", total=args.customers)
            result = rescreen(uow.conn, screen, datetime.now(UTC), lambda n: progress.advance(task, n))
        uow.commit()
    finished = time.perf_counter()

    listed = [row.name for row in parse_sdn(text) if (row.sdn_type or "").casefold() == "individual"]
    queries = [(name, PersonFacts(born, "KR")) for name, born in korean_people(args.names // 2, rng)]
    queries += [(name, PersonFacts(date(1970, 1, 1), "KR")) for name in rng.sample(listed, args.names // 2)]
    timings, cpu = [], []
    for name, person in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        screen.screen(name, person)
        timings.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    cuts = quantiles(timings, n=100, method="inclusive")
    # CPU time shows the screen's own cost when other processes share the cores.
    cpu_cuts = quantiles(cpu, n=100, method="inclusive")

    table = Table(title=f"sanctions screening, {SDN_2024.name}, SQLite")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("listed entries / names", f"{summary.entries:,} / {summary.names:,}")
    table.add_row("screen one name: names timed", f"{len(timings):,}")
    table.add_row("screen one name: p50", f"{cuts[49]:.2f} ms")
    table.add_row("screen one name: p99 (bar: 10 ms)", f"{cuts[98]:.2f} ms")
    table.add_row("screen one name: max", f"{max(timings):.2f} ms")
    table.add_row("screen one name: p99 CPU time", f"{cpu_cuts[98]:.2f} ms")
    table.add_row("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}")
    table.add_row("load: parse + store the list", f"{loaded - started:.1f} s")
    table.add_row("load: build the matcher", f"{built - loaded:.1f} s")
    table.add_row(f"load: re-screen {result.customers:,} customers", f"{finished - built:.1f} s")
    table.add_row("load + re-screen total (bar: 60 s)", f"{finished - started:.1f} s")
    table.add_row("customers changed / frozen", f"{len(result.changes)} / {result.frozen}")
    console.print(table)
    engine.dispose()


if __name__ == "__main__":
    main()
