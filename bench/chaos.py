"""`make chaos`: load through API and worker processes while the outside world misbehaves and workers die.

PostgreSQL, one sandbox process, N APIs and M workers (real processes on loopback). For
`--seconds`, sellers sell vouchers of every kind — clean, flaky and slow issuers, partial
balances, carrier-billing declarations, codes sold twice, repeated idempotency keys —
some into accounts their bank refuses (they then redirect the payout), reviewers decide
held trades, the issuer charges back some paid vouchers, a random worker is SIGKILLed
and replaced every few seconds, and halfway through PostgreSQL itself is restarted the way a
crash ends it (`pg_ctl restart -m immediate`; the server runs durable, fsync and synchronous
commit on, so that the restart loses no acknowledged commit; `--no-db-restart` leaves it
alone and fast). Then the load stops, every trade is given time to come to rest, and the
invariants are checked: `ledger verify` (secure before pay, exactly once, balanced, nothing
lost), every trade at rest, for every seller the money equation (earned = sent to the bank +
settled against reversals + still owed), and today's issuer and bank statements reconciled
one-to-one against the books. Every API answer is counted:
a 5xx is a violation, except 503 with Retry-After (the database away longer than the few
seconds a request waits for it). Exit code 1 on any violation.
"""

from __future__ import annotations

import argparse
import random
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
from pytest_postgresql.executors.proc import PostgreSQLExecutor
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Connection, select
from tests.support.cluster import Cluster, cluster
from tests.support.postgres import create_database, restart_server, start_server, stop_server

from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import ledger_accounts, ledger_transfers, trades, voucher_chargebacks
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD, DEMO_TOTP_SECRET
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.reconcile import daily
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.reconcile.matching import Bucket
from voucher_exchange.reconcile.statements import Source

console = Console()
RESTING = {"paid", "rejected", "cancelled", "failed", "reversed", "in_review"}
KINDS = ["clean", "clean", "clean", "flaky", "slow", "partial", "carrier", "resell", "same_key"]


@dataclass
class ChaosSeller:
    """A seller on the cluster, with every bank account it registered."""

    token: str
    name: str
    user_id: str
    destination_id: str
    accounts: list[str]
    refusing: bool


@dataclass
class Tally:
    """What the run did."""

    trades: set[str] = field(default_factory=set)
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    redirects: int = 0
    chargebacks: int = 0
    reviews: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    # Every 5xx the API answered, by route and status; a 503 with Retry-After is counted apart.
    server_errors: Counter[str] = field(default_factory=Counter)
    retry_later: Counter[str] = field(default_factory=Counter)
    db_restart_seconds: float | None = None
    codes: list[str] = field(default_factory=list)
    code_of: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Run:
    """One chaos run against a running cluster."""

    def __init__(self, deployment: Cluster, rng: random.Random) -> None:
        self.c = deployment
        self.rng = rng
        self.tally = Tally()
        self.sellers: list[ChaosSeller] = []
        self.stop = threading.Event()

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.rng.choice(self.c.api_urls) + "/api/v1",
            headers=headers,
            timeout=30,
            event_hooks={"response": [self._count_5xx]},
        )

    def _count_5xx(self, response: httpx.Response) -> None:
        if response.status_code < 500:
            return
        where = f"{response.request.method} {response.request.url.path} {response.status_code}"
        with self.tally.lock:
            if response.status_code == 503 and response.headers.get("Retry-After", "").isdigit():
                self.tally.retry_later[where] += 1
            else:
                self.tally.server_errors[where] += 1

    def restart_database(self, server: PostgreSQLExecutor, after: float) -> None:
        """Once, `after` seconds in: every database connection dies at once, then crash recovery."""
        if not self.stop.wait(after):
            started = time.monotonic()
            restart_server(server)
            self.tally.db_restart_seconds = time.monotonic() - started

    def sandbox(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.c.sandbox_url + path, json=body, timeout=30)

    def _account(self, name: str, behavior: str) -> str:
        account = str(uuid.uuid4().int)[:12]
        self.sandbox(
            "/rail/accounts",
            {"bank_code": "004", "account_number": account, "holder_name": name, "behavior": behavior},
        )
        return account

    def new_seller(self, n: int, refusing: bool) -> ChaosSeller:
        name = f"Chaos Seller {n}"
        with self.api() as http:
            token = http.post(
                "/accounts",
                json={"email": f"chaos-{uuid.uuid4().hex[:10]}@example.com", "password": "chaos-pass-word"},
            ).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            http.post(
                "/me/identity",
                headers=auth,
                json={"legal_name": name, "birth_date": "1990-01-01", "phone": "01012345678"},
            )
            account = self._account(name, "reject" if refusing else "ok")
            dest = http.post(
                "/me/payout-destinations",
                headers=auth,
                json={
                    "kind": "bank_account",
                    "bank_code": "004",
                    "account_number": account,
                    "holder_name": name,
                },
            ).json()
            user_id = http.get("/me", headers=auth).json()["id"]
        return ChaosSeller(token, name, user_id, dest["id"], [account], refusing)

    def sell_one(self, seller: ChaosSeller) -> None:
        kind = self.rng.choice(KINDS)
        issued = (datetime.now(UTC) - timedelta(days=10)).isoformat()
        mint: dict[str, Any] = {"brand": "cultureland", "face_value": 10000, "issued_at": issued}
        if kind == "flaky":
            mint["failure"] = "flaky"
        elif kind == "slow":
            mint["failure"] = "timeout"
        elif kind == "partial":
            mint["balance"] = 5000
        with self.tally.lock:
            reuse = self.tally.codes[-1] if kind == "resell" and self.tally.codes else None
        code = reuse or self.sandbox("/issuer/vouchers", mint).json()["code"]
        with self.tally.lock:
            self.tally.codes.append(code)
            self.tally.faults[kind] += 1
        with self.api(seller.token) as http:
            quote = http.post(
                "/quotes", json={"brand": "cultureland", "face_value": {"amount": 10000, "currency": "KRW"}}
            )
            if quote.status_code != 201:
                self.tally.errors[f"quote {quote.status_code}"] += 1
                return
            body = {
                "quote_id": quote.json()["id"],
                "voucher": {"code": code},
                "acquisition": {
                    "method": "carrier_billing" if kind == "carrier" else "gift",
                    "acquired_on": "2026-11-01",
                },
                "payout_destination_id": seller.destination_id,
            }
            key = {"Idempotency-Key": uuid.uuid4().hex}
            sent = [
                http.post("/trades", json=body, headers=key) for _ in range(2 if kind == "same_key" else 1)
            ]
        for response in sent:
            if response.status_code == 202:
                with self.tally.lock:
                    self.tally.trades.add(response.json()["id"])
                    self.tally.code_of[response.json()["id"]] = code
            else:
                self.tally.errors[f"trade {response.status_code}"] += 1

    def load(self) -> None:
        while not self.stop.is_set():
            try:
                self.sell_one(self.rng.choice(self.sellers))
            except httpx.HTTPError as exc:
                self.tally.errors[type(exc).__name__] += 1

    def killer(self, every: float) -> None:
        while not self.stop.wait(self.rng.uniform(every * 0.5, every * 1.5)):
            alive = [w for w in self.c.workers if w.poll() is None]
            if alive:
                self.rng.choice(alive).send_signal(signal.SIGKILL)
                self.tally.kills += 1
                self.c.start_worker()

    def tend(self, operator: str) -> None:
        """What people do meanwhile: reviewers decide, refused sellers redirect, issuers charge back."""
        while not self.stop.wait(2.0):
            self.tend_once(operator)

    def tend_once(self, operator: str, charge_back: bool = True) -> None:
        with self.api(operator) as staff:
            for held in staff.get("/review/trades").json().get("trades", [])[:10]:
                outcome = self.rng.choice(["approve", "approve", "reject"])
                if (
                    staff.post(
                        f"/review/trades/{held['id']}/decision", json={"outcome": outcome, "note": "chaos"}
                    ).status_code
                    == 200
                ):
                    self.tally.reviews += 1
        for seller in self.sellers:
            with self.api(seller.token) as http:
                for trade in http.get("/trades", params={"status": "failed"}).json().get("trades", []):
                    if trade.get("can_redirect_payout"):
                        self.redirect(seller, http, trade["id"])
                if charge_back and self.rng.random() < 0.05:
                    paid = http.get("/trades", params={"status": "paid"}).json().get("trades", [])
                    if paid:
                        self.chargeback(self.rng.choice(paid)["id"])

    def redirect(self, seller: ChaosSeller, http: httpx.Client, trade_id: str) -> None:
        account = self._account(seller.name, "ok")
        dest = http.post(
            "/me/payout-destinations",
            json={
                "kind": "bank_account",
                "bank_code": "004",
                "account_number": account,
                "holder_name": seller.name,
            },
        ).json()
        seller.accounts.append(account)
        if (
            http.post(f"/trades/{trade_id}/payout", json={"payout_destination_id": dest["id"]}).status_code
            == 202
        ):
            self.tally.redirects += 1
            seller.destination_id = dest["id"]

    def chargeback(self, trade_id: str) -> None:
        code = self.tally.code_of.get(trade_id)
        if (
            code
            and self.sandbox("/issuer/chargebacks", {"code": code, "reason": "stolen"}).status_code == 202
        ):
            with self.tally.lock:
                self.tally.chargebacks += 1


def _operator(url: str) -> str:
    """Sign the demo operator in: password and a TOTP code, as staff two-factor requires.

    `serve --demo` enrolled the demo staff with the published demo key, spending the current
    30-second step; the next step's code is accepted (as in tests/cli/test_commands.py).
    """
    code = pyotp.TOTP(DEMO_TOTP_SECRET).at(time.time() + 30)
    response = httpx.post(
        url + "/api/v1/sessions",
        json={"email": DEMO_OPERATOR_EMAIL, "password": DEMO_OPERATOR_PASSWORD, "totp": code},
        timeout=30,
    )
    if response.status_code != 201:
        raise SystemExit(f"the operator could not sign in: {response.status_code} {response.text}")
    token: str = response.json()["token"]
    queue = httpx.get(url + "/api/v1/review/trades", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if queue.status_code != 200:
        raise SystemExit(f"the operator cannot read the review queue: {queue.status_code} {queue.text}")
    return token


def _per_seller(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
    """user id → payouts of every secured trade; user id → payouts of reversed trades (owed back)."""
    earned: Counter[str] = Counter()
    reversed_owed: Counter[str] = Counter()
    rows = conn.execute(
        select(trades.c.user_id, trades.c.payout, trades.c.status).where(trades.c.secured_at.is_not(None))
    )
    for r in rows:
        earned[r.user_id] += int(r.payout)
        if r.status == "reversed":
            reversed_owed[r.user_id] += int(r.payout)
    return dict(earned), dict(reversed_owed)


def _chargebacks_unapplied(run: Run, url: str) -> int:
    """Chargebacks the issuer reported that the exchange has not yet received or applied.

    The equation reads trades and balances after this is 0: a report applied between the two
    reads would look like money that vanished.
    """
    feed = httpx.get(f"{run.c.sandbox_url}/issuer/chargebacks", params={"after": 0}, timeout=30)
    reported = {int(c["id"]) for c in feed.json()["chargebacks"]}
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            applied = {
                int(r.issuer_seq)
                for r in conn.execute(
                    select(voucher_chargebacks.c.issuer_seq).where(voucher_chargebacks.c.outcome != "pending")
                )
            }
    finally:
        engine.dispose()
    return len(reported - applied)


def _explain(url: str, run: Run, seller: ChaosSeller) -> None:
    """Print what a seller's money equation is made of: their trades, ledger postings and bank transfers."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            table = Table("trade", "status", "payout", "secured", title=f"{seller.name}: trades")
            for t in conn.execute(
                select(trades.c.id, trades.c.status, trades.c.payout, trades.c.secured_at)
                .where(trades.c.user_id == seller.user_id)
                .order_by(trades.c.created_at)
            ):
                table.add_row(t.id, t.status, str(t.payout), "yes" if t.secured_at else "no")
            console.print(table)
            debit, credit = ledger_accounts.alias("debit"), ledger_accounts.alias("credit")
            postings = Table("key", "debit", "credit", "amount", "phase", title=f"{seller.name}: postings")
            for p in conn.execute(
                select(
                    ledger_transfers.c.key,
                    debit.c.code,
                    credit.c.code,
                    ledger_transfers.c.amount,
                    ledger_transfers.c.phase,
                )
                .join(debit, debit.c.id == ledger_transfers.c.debit_account_id)
                .join(credit, credit.c.id == ledger_transfers.c.credit_account_id)
                .where((debit.c.code.contains(seller.user_id)) | (credit.c.code.contains(seller.user_id)))
                .order_by(ledger_transfers.c.id)
            ):
                postings.add_row(p.key, p[1], p[2], str(p.amount), p.phase)
            console.print(postings)
    finally:
        engine.dispose()
    for account in seller.accounts:
        sent = httpx.get(
            run.c.sandbox_url + "/rail/transfers", params={"account_number": account}, timeout=30
        )
        console.print(f"{seller.name}: bank transfers to …{account[-4:]}: {sent.json()['transfers']}")


def _reconcile(run: Run, url: str, violations: list[str]) -> dict[str, tuple[int, int]]:
    """Today's issuer and bank statements from the sandbox, matched one-to-one to the books."""
    day = datetime.now(UTC).date()
    engine = make_engine(url)
    found: dict[str, tuple[int, int]] = {}
    try:
        for source in (Source.ISSUER, Source.RAIL):
            text = httpx.get(
                f"{run.c.sandbox_url}/{source.value}/statements", params={"date": day.isoformat()}, timeout=60
            ).text
            with UnitOfWork(engine, readonly=True) as uow:
                result = daily.reconcile(
                    uow.conn, daily.Statement(source, day, f"{source.value}.csv", text), timedelta(minutes=15)
                )
            found[source.value] = (result.count(Bucket.MATCHED), len(result.unmatched))
            violations.extend(
                f"{source.value} statement: {r.bucket.value} {r.reference} {[p.value for p in r.problems]}"
                for r in result.unmatched
            )
    finally:
        engine.dispose()
    return found


def _statuses(url: str) -> Counter[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(r.status for r in conn.execute(select(trades.c.status)))
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--sellers", type=int, default=24)
    parser.add_argument("--load-threads", type=int, default=3)
    parser.add_argument(
        "--kill-every", type=float, default=8.0, help="seconds between worker SIGKILLs, on average"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--db-restart",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="restart PostgreSQL (pg_ctl restart -m immediate) halfway through",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)  # fault injection, not security
    server = start_server(durable=args.db_restart)
    try:
        url = create_database(server, "vx_chaos")
        base = Path(tempfile.mkdtemp(prefix="vx-chaos-"))
        env = {"VX_CHARGEBACK_POLL_SECONDS": "1", "VX_HTTP_TIMEOUT_SECONDS": "1", "VX_JOB_MAX_ATTEMPTS": "8"}
        with cluster(base, url, args.apis, args.workers, extra_env=env) as deployment:
            run = Run(deployment, rng)
            violations = drive(run, args, url, server if args.db_restart else None)
    finally:
        stop_server(server)
    raise SystemExit(1 if violations else 0)


def drive(run: Run, args: argparse.Namespace, url: str, server: PostgreSQLExecutor | None = None) -> int:
    """Load, faults and kills (and a `server` restart) for the set time; then settle and check.

    Returns the number of violations.
    """
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        setup = progress.add_task("sellers", total=args.sellers)
        for n in range(args.sellers):
            run.sellers.append(run.new_seller(n, refusing=n % 4 == 3))
            progress.advance(setup)
        operator = _operator(run.c.api_urls[0])
        threads = [threading.Thread(target=run.load, daemon=True) for _ in range(args.load_threads)]
        threads += [
            threading.Thread(target=run.killer, args=(args.kill_every,), daemon=True),
            threading.Thread(target=run.tend, args=(operator,), daemon=True),
        ]
        if server is not None:
            threads.append(threading.Thread(target=run.restart_database, args=(server, args.seconds / 2)))
        for t in threads:
            t.start()
        chaos = progress.add_task("chaos", total=args.seconds)
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < args.seconds:
            progress.update(chaos, completed=elapsed)
            time.sleep(0.5)
        progress.update(chaos, completed=args.seconds)
        run.stop.set()
        for t in threads:
            t.join(timeout=60)
        settle = progress.add_task("settling", total=len(run.tally.trades))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            run.tend_once(operator, charge_back=False)
            statuses = _statuses(url)
            resting = sum(n for s, n in statuses.items() if s in RESTING)
            progress.update(settle, completed=resting)
            if resting == sum(statuses.values()) and not _chargebacks_unapplied(run, url):
                break
            time.sleep(1.0)
    return report(run, url)


def report(run: Run, url: str) -> int:
    """Check every invariant and print the summary; returns the number of violations."""
    statuses = _statuses(url)
    engine = make_engine(url)
    try:
        # One snapshot for the books and the trades: the money equation compares the two.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            verify = reconcile_service.verify(conn)
            balances = {b["account"]: b["balance"] for b in ledger_service.balances(conn)}
            earned, reversed_owed = _per_seller(conn)
    finally:
        engine.dispose()
    if unapplied := _chargebacks_unapplied(run, url):
        console.print(f"[yellow]{unapplied} chargebacks reported by the issuer were not applied yet")
    violations = list(verify.violations)
    matched = _reconcile(run, url, violations)
    unrested = {s: n for s, n in statuses.items() if s not in RESTING}
    if unrested:
        violations.append(f"trades not at rest: {unrested}")
    for seller in run.sellers:
        sent = sum(
            t["amount"]
            for account in seller.accounts
            for t in httpx.get(
                run.c.sandbox_url + "/rail/transfers", params={"account_number": account}, timeout=30
            ).json()["transfers"]
        )
        owed = -balances.get(f"seller_payable:{seller.user_id}", 0)
        netted = reversed_owed.get(seller.user_id, 0) - balances.get(f"seller_receivable:{seller.user_id}", 0)
        # Every unit a seller earned went to their bank, settled a reversal's debt, or is owed to them.
        if earned.get(seller.user_id, 0) != sent + netted + owed:
            violations.append(
                f"{seller.name}: earned {earned.get(seller.user_id, 0)} != sent {sent} + netted {netted} + owed {owed}"
            )
            _explain(url, run, seller)
    table = Table("what", "count", title="make chaos")
    table.add_row("trades accepted", str(len(run.tally.trades)))
    for status, count in sorted(statuses.items()):
        table.add_row(f"  {status}", str(count))
    table.add_row("workers SIGKILLed", str(run.tally.kills))
    for kind, count in sorted(run.tally.faults.items()):
        table.add_row(f"vouchers: {kind}", str(count))
    table.add_row("payouts redirected by sellers", str(run.tally.redirects))
    table.add_row("chargebacks reported by the issuer", str(run.tally.chargebacks))
    table.add_row("reviews decided", str(run.tally.reviews))
    for error, count in sorted(run.tally.errors.items()):
        table.add_row(f"client saw {error}", str(count))
    for source, (count, unmatched) in matched.items():
        table.add_row(f"{source} statement lines matched / unmatched", f"{count} / {unmatched}")
    restart = run.tally.db_restart_seconds
    table.add_row("PostgreSQL restarted mid-run", "no" if restart is None else f"yes, down {restart:.1f} s")
    table.add_row("API 5xx answers", str(sum(run.tally.server_errors.values())))
    for where, count in sorted(run.tally.server_errors.items()):
        table.add_row(f"  {where}", str(count))
        violations.append(f"the API answered {where} ({count}x)")
    table.add_row("API 503 with Retry-After (database away)", str(sum(run.tally.retry_later.values())))
    table.add_row("violations", str(len(violations)))
    console.print(table)
    for line in violations:
        console.print(f"[red]violation:[/red] {line}")
    console.print(
        "[green bold]chaos: 0 violations[/green bold]"
        if not violations
        else "[red bold]chaos: violations[/red bold]"
    )
    return len(violations)


if __name__ == "__main__":
    main()
