"""The embedded default as a user runs it: `serve --demo`, one process, CPU per trade.

`serve --demo` runs in its own process (SQLite, its var/ in a temporary directory, the
sandboxes mounted at /sandbox, the demo's local SMTP catcher taking every notice e-mail,
2 in-process worker threads). Sellers sign up first (verified, with a bank account, each
on its own address via X-Forwarded-For, which the server trusts from 127.0.0.1 through
`FORWARDED_ALLOW_IPS`); that is not measured. Then each trade is what a seller does:
a quote, the submission, and a page following the trade until it is paid, by asking
`GET /api/v1/trades/{id}` every `--poll` seconds (the web timeline asks every second),
sending `If-None-Match` with the last `ETag` when the server gave one.

Reported (server process CPU from /proc: utime + stime, all its threads):
- CPU ms per trade over the trades window, and less the idle rate measured just before;
- the share of the following page: CPU per `GET /trades/{id}` measured apart × GETs per trade;
- e-mails caught per trade;
- idle vs a held trade polled every 0.2 s with conditional GETs, over the same seconds
  (`--held-only`: just that, `--rounds` times back to back, without the trades).

    .venv/bin/python -m bench.embedded --trades 200
    .venv/bin/python -m bench.embedded --held-only --rounds 3 --held-seconds 15
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.support.polling import poll_until
from tests.support.processes import CLI, free_port

from bench import generator
from bench.measure import cpu_seconds, machine

PAID = "paid"
ENDED = {"paid", "rejected", "cancelled", "failed", "reversed"}


@dataclass
class Server:
    """The `serve --demo` process."""

    proc: subprocess.Popen[bytes]
    url: str
    var_dir: Path

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    @property
    def sandbox(self) -> str:
        return self.url + "/sandbox"

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def mails(self) -> int:
        folder = self.var_dir / "mail"
        return sum(1 for _ in folder.glob("*.eml")) if folder.exists() else 0


def start(base: Path, extra_env: dict[str, str] | None = None) -> Server:
    """`serve --demo` on a free port, its var/ under `base`; returns when it answers /readyz."""
    port = free_port()
    var_dir = base / "var"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VX_")}
    env = {
        **clean,
        "VX_VAR_DIR": str(var_dir),
        "VX_DATABASE_URL": f"sqlite:///{var_dir}/voucher-exchange.db",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        # Sign-ups and quotes of many sellers in seconds: the limits are counted, not reached.
        "VX_RATE_LIMIT_MULTIPLIER": "1000",
        # Payouts are sent whatever the time of day: in the banks' nightly window (23:30-00:30
        # KST) they would queue until it ends and a run would stall there.
        "VX_BANK_WINDOW": "off",
        **(extra_env or {}),
    }
    with (base / "serve.log").open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603  # our own CLI, fixed arguments
            [*CLI, "serve", "--demo", "--port", str(port)],
            env=env,
            cwd=base,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"serve --demo exited with {proc.returncode}: see {base / 'serve.log'}")
        try:
            return httpx.get(url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    poll_until(ready, timeout=120, interval=0.2, what="serve --demo")
    return Server(proc, url, var_dir)


def stop(server: Server) -> None:
    """SIGTERM, then wait (SIGKILL after 30 s)."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


class Follower:
    """A page following one trade: GET /trades/{id} with If-None-Match once it has an ETag."""

    def __init__(self) -> None:
        self.gets = itertools.count()
        self.not_modified = itertools.count()

    def follow(self, http: httpx.Client, headers: dict[str, str], trade_id: str, every: float) -> str:
        """Ask every `every` seconds until the trade has ended; returns its last status."""
        etag: str | None = None
        status = ""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            sent = {**headers, **({"If-None-Match": etag} if etag else {})}
            response = http.get(f"/trades/{trade_id}", headers=sent)
            next(self.gets)
            if response.status_code == 304:
                next(self.not_modified)
            else:
                if response.status_code != 200:
                    raise RuntimeError(
                        f"GET /trades/{trade_id}: {response.status_code} {response.text[:200]}"
                    )
                etag = response.headers.get("ETag")
                status = str(response.json()["status"])
                if status in ENDED:
                    return status
            time.sleep(every)
        raise RuntimeError(f"trade {trade_id} did not end in 300 s (last {status})")


def _idle(server: Server, seconds: float) -> float:
    """CPU ms per second of the server doing nothing."""
    before = server.cpu()
    time.sleep(seconds)
    return (server.cpu() - before) * 1000 / seconds


def _held_trade(
    server: Server, clients: generator.Clients, seller: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """A trade held for review: the seller's sixth in an hour (the velocity rule); it rests in_review."""
    sandbox = clients.get(server.sandbox)
    issued = (datetime.now(UTC) - timedelta(days=generator.ISSUED_DAYS_AGO)).isoformat()
    body = {"brand": "cultureland", "face_value": generator.FACE, "issued_at": issued}
    http = clients.get(server.api)
    trade_id = ""
    for _ in range(6):
        trade_id = generator.sell(http, seller, sandbox.post("/issuer/vouchers", json=body).json()["code"])
    headers = {"Authorization": f"Bearer {seller['token']}", "X-Forwarded-For": seller["ip"]}

    def resting() -> bool:
        return http.get(f"/trades/{trade_id}", headers=headers).json()["status"] in {"in_review", *ENDED}

    poll_until(resting, timeout=60, interval=0.2, what="the held trade to rest")
    return trade_id, headers


def held_vs_idle(
    server: Server, clients: generator.Clients, seller: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """CPU of the idle server vs the same server with one held trade polled every 0.2 s."""
    trade_id, headers = _held_trade(server, clients, seller)
    return _held_vs_idle(server, clients, trade_id, headers, seconds)


def _held_vs_idle(
    server: Server, clients: generator.Clients, trade_id: str, headers: dict[str, str], seconds: float
) -> dict[str, Any]:
    status = clients.get(server.api).get(f"/trades/{trade_id}", headers=headers).json()["status"]
    time.sleep(1.0)  # the hand-off's jobs settle
    idle = _idle(server, seconds)
    http = clients.get(server.api)
    etag: str | None = None
    gets = 0
    not_modified = 0
    before = server.cpu()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        response = http.get(
            f"/trades/{trade_id}", headers={**headers, **({"If-None-Match": etag} if etag else {})}
        )
        gets += 1
        if response.status_code == 304:
            not_modified += 1
        else:
            etag = response.headers.get("ETag")
        time.sleep(0.2)
    polled = (server.cpu() - before) * 1000 / (time.monotonic() - started)
    return {"status": status, "idle": idle, "polled": polled, "gets": gets, "not_modified": not_modified}


def get_cost(
    server: Server, clients: generator.Clients, seller: dict[str, Any], trade_id: str, n: int
) -> dict[str, float]:
    """CPU ms of one GET /trades/{id} on an ended trade: plain, and conditional."""
    http = clients.get(server.api)
    headers = {"Authorization": f"Bearer {seller['token']}", "X-Forwarded-For": seller["ip"]}
    first = http.get(f"/trades/{trade_id}", headers=headers)
    etag = first.headers.get("ETag")
    result: dict[str, float] = {}
    for name, sent in (("plain", headers), ("conditional", {**headers, "If-None-Match": etag or "none"})):
        before = server.cpu()
        for _ in range(n):
            http.get(f"/trades/{trade_id}", headers=sent)
        result[name] = (server.cpu() - before) * 1000 / n
    result["etag"] = 1.0 if etag else 0.0
    return result


def held_only(args: argparse.Namespace) -> list[dict[str, Any]]:
    """`--held-only`: one seller, one held trade, then idle vs polled `--rounds` times (no trades window)."""
    with tempfile.TemporaryDirectory(prefix="vx-embedded-") as tmp:
        server = start(Path(tmp))
        clients = generator.Clients()
        try:
            made = generator.setup(
                {"apis": [server.url], "sandbox": server.sandbox, "sellers": 1, "vouchers": 0},
                clients,
                lambda _n: None,
            )
            time.sleep(2.0)  # the sign-up's jobs (welcome mail) drain before the idle reading
            seller = made["sellers"][0]
            trade_id, headers = _held_trade(server, clients, seller)
            return [
                _held_vs_idle(server, clients, trade_id, headers, args.held_seconds)
                for _ in range(args.rounds)
            ]
        finally:
            clients.close()
            stop(server)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start, sign up, trade, measure; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="vx-embedded-") as tmp:
        server = start(Path(tmp))
        clients = generator.Clients()
        try:
            sellers_needed = -(-args.trades // generator.TRADES_PER_SELLER) + 1  # +1: the held trade's
            made = generator.setup(
                {
                    "apis": [server.url],
                    "sandbox": server.sandbox,
                    "sellers": sellers_needed,
                    "vouchers": args.trades,
                },
                clients,
                lambda _n: None,
            )
            sellers, codes = made["sellers"][:-1], made["codes"]
            time.sleep(2.0)  # sign-up jobs (welcome mails) drain before the idle reading
            idle = _idle(server, args.idle_seconds)
            mails0 = server.mails()
            follower = Follower()
            ids: list[tuple[dict[str, Any], str]] = []
            lock = threading.Lock()
            ended: list[str] = []

            def one(i: int) -> None:
                seller = sellers[i % len(sellers)]
                http = clients.get(server.api)
                trade_id = generator.sell(http, seller, codes[i])
                headers = {"Authorization": f"Bearer {seller['token']}", "X-Forwarded-For": seller["ip"]}
                status = follower.follow(http, headers, trade_id, args.poll)
                with lock:
                    ids.append((seller, trade_id))
                    ended.append(status)

            cpu0, wall0 = server.cpu(), time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(one, range(args.trades)))
            # Notices of the last trades may still be on their way: wait, inside the window,
            # until no new e-mail has arrived for a second.
            seen = -1
            while server.mails() != seen:
                seen = server.mails()
                time.sleep(1.0)
            cpu1, wall1 = server.cpu(), time.monotonic()
            mails = seen - mails0
            paid = sum(1 for s in ended if s == PAID)
            gets = next(follower.gets)
            not_modified = next(follower.not_modified)
            cost = get_cost(server, clients, ids[0][0], ids[0][1], 200)
            held = held_vs_idle(server, clients, made["sellers"][-1], args.held_seconds)
            rss = server.rss_mb()
        finally:
            clients.close()
            stop(server)
    window = wall1 - wall0
    total = (cpu1 - cpu0) * 1000
    return {
        "trades": args.trades,
        "paid": paid,
        "window": window,
        "cpu_per_trade": total / args.trades,
        "idle_ms_per_s": idle,
        "cpu_less_idle": (total - idle * window) / args.trades,
        "gets_per_trade": gets / args.trades,
        "not_modified_share": not_modified / gets if gets else 0.0,
        "get_ms": cost,
        "mails_per_trade": mails / args.trades,
        "held": held,
        "rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trades", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="sellers trading at once")
    parser.add_argument(
        "--poll", type=float, default=1.0, help="seconds between a page's GETs (web timeline: 1)"
    )
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--held-seconds", type=float, default=10.0)
    parser.add_argument(
        "--held-only", action="store_true", help="only idle vs a polled held trade (no trades window)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="--held-only: idle/polled pairs, back to back")
    args = parser.parse_args()
    m = machine()
    if args.held_only:
        rounds = held_only(args)
        load = os.getloadavg()
        print(
            f"Measured {m.date} on {m.cores} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
        )
        for h in rounds:
            _print_held(h, args.held_seconds)
        print(
            f"median of {len(rounds)}: polled {statistics.median(h['polled'] for h in rounds):.1f} ms/s,"
            f" idle {statistics.median(h['idle'] for h in rounds):.1f} ms/s"
        )
        return
    r = run(args)
    load = os.getloadavg()
    print(f"Measured {m.date} on {m.cores} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print("embedded default (serve --demo, SQLite, sandboxes mounted, demo SMTP catcher, 2 worker threads)")
    print(
        f"trades measured: {r['trades']} (paid {r['paid']}), {args.concurrency} sellers at once, window {r['window']:.1f} s"
    )
    print(f"server CPU per trade: {r['cpu_per_trade']:.1f} ms")
    print(f"  less the idle rate ({r['idle_ms_per_s']:.1f} ms/s): {r['cpu_less_idle']:.1f} ms")
    g = r["get_ms"]
    share = r["gets_per_trade"] * (
        r["not_modified_share"] * g["conditional"] + (1 - r["not_modified_share"]) * g["plain"]
    )
    print(
        f"  the following page: {r['gets_per_trade']:.1f} GETs per trade ({r['not_modified_share']:.0%} answered 304),"
        f" one GET {g['plain']:.2f} ms, conditional {g['conditional']:.2f} ms (ETag {'yes' if g['etag'] else 'no'})"
        f" → ~{share:.1f} ms per trade"
    )
    print(f"  notice e-mails caught: {r['mails_per_trade']:.2f} per trade")
    _print_held(r["held"], args.held_seconds)
    print(f"server RSS at the end: {r['rss_mb']:.0f} MB")


def _print_held(h: dict[str, Any], seconds: float) -> None:
    print(
        f"held trade ({h['status']}) polled every 0.2 s with conditional GETs: {h['polled']:.1f} ms/s"
        f" vs idle {h['idle']:.1f} ms/s over {seconds:.0f} s ({h['gets']} GETs, {h['not_modified']} answered 304)"
    )


if __name__ == "__main__":
    main()
