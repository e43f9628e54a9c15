"""The load generator, run as its own process so that its CPU is reported apart.

`python -m bench.generator SPEC.json` reads what to do, prints `{"event": "ready"}`,
waits for a line on stdin (the bench samples every process's CPU in between), does
the work printing `{"event": "progress", "done": n}` lines, and ends with one
`{"event": "result", ...}` line carrying its own CPU seconds for the measured work.

Every worker thread keeps one `httpx.Client` per API (keep-alive, one TLS/SSL
context) for the whole run. Each simulated seller has its own client IP, sent as
`X-Forwarded-For`: the API processes trust it from 127.0.0.1 (uvicorn's
`FORWARDED_ALLOW_IPS`), so per-IP risk features see a realistic spread.
"""

from __future__ import annotations

import itertools
import json
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

FACE = 10_000  # cultureland ₩10,000 → payout ₩9,000
# Honest sellers: a few vouchers each, bought days ago, so the live rule set lets them through.
TRADES_PER_SELLER = 4
ISSUED_DAYS_AGO = 10
QUOTE_BODY = {"brand": "cultureland", "face_value": {"amount": FACE, "currency": "KRW"}}


def seller_ip(n: int) -> str:
    """A distinct private IPv4 address for seller `n` (10.0.0.1 onwards)."""
    n += 1
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def emit(event: str, **data: Any) -> None:
    """One JSON line to the bench."""
    print(json.dumps({"event": event, **data}), flush=True)


class Clients:
    """One keep-alive `httpx.Client` per (thread, base URL), reused for every request."""

    def __init__(self) -> None:
        # One SSL context for all: httpx would otherwise build one per client (~25 ms CPU each).
        self._ssl = ssl.create_default_context()
        self._local = threading.local()
        self._all: list[httpx.Client] = []
        self._lock = threading.Lock()

    def get(self, base_url: str) -> httpx.Client:
        """This thread's client for `base_url`."""
        mine: dict[str, httpx.Client] = self._local.__dict__.setdefault("clients", {})
        if base_url not in mine:
            # An idle connection is dropped well before the server's keep-alive (uvicorn: 5 s) ends
            # it: at the same instant, a request sent on it as the server closes it is reset.
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=2.0)
            mine[base_url] = httpx.Client(base_url=base_url, timeout=60, limits=limits, verify=self._ssl)
            with self._lock:
                self._all.append(mine[base_url])
        return mine[base_url]

    def close(self) -> None:
        """Close every client."""
        for client in self._all:
            client.close()


def _ok(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def setup(spec: dict[str, Any], clients: Clients, progress: Callable[[int], None]) -> dict[str, Any]:
    """Verified sellers with bank accounts, and fresh vouchers at the sandbox issuer."""
    apis: list[str] = [a + "/api/v1" for a in spec["apis"]]
    sandbox: str = spec["sandbox"]
    done = itertools.count(1)

    def new_seller(n: int) -> dict[str, Any]:
        http = clients.get(apis[n % len(apis)])
        ip = {"X-Forwarded-For": seller_ip(n)}
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        signed_up = http.post("/accounts", json={"email": email, "password": "bench-pass-1"}, headers=ip)
        # Sign-ups beyond the password-hashing pool are turned away (429 server_busy): back off
        # as Retry-After says, like a real client, for at most a minute (the soak waits longer).
        deadline = time.monotonic() + spec.get("signup_patience", 60)
        while signed_up.status_code == 429 and time.monotonic() < deadline:
            time.sleep(float(signed_up.headers.get("Retry-After", "1")))
            signed_up = http.post("/accounts", json={"email": email, "password": "bench-pass-1"}, headers=ip)
        token = _ok(signed_up, 201)["token"]
        auth = {"Authorization": f"Bearer {token}", **ip}
        name = f"Bench Seller {n}"
        identity = {"legal_name": name, "birth_date": "1990-01-01", "phone": "01012345678"}
        http.post("/me/identity", headers=auth, json=identity).raise_for_status()
        account = f"{9_000_000_000 + n:012d}"
        bank = {"bank_code": "004", "account_number": account, "holder_name": name}
        clients.get(sandbox).post("/rail/accounts", json=bank).raise_for_status()
        dest = _ok(
            http.post("/me/payout-destinations", headers=auth, json={"kind": "bank_account", **bank}), 201
        )
        if dest["status"] != "verified":
            raise RuntimeError(f"payout destination not verified: {dest}")
        progress(next(done))
        return {"n": n, "token": token, "destination_id": dest["id"], "ip": seller_ip(n)}

    issued = (datetime.now(UTC) - timedelta(days=ISSUED_DAYS_AGO)).isoformat()

    def mint(_: int) -> str:
        body = {"brand": "cultureland", "face_value": FACE, "issued_at": issued}
        code: str = _ok(clients.get(sandbox).post("/issuer/vouchers", json=body), 201)["code"]
        progress(next(done))
        return code

    with ThreadPoolExecutor(spec.get("threads", 8)) as pool:
        first = spec.get("first", 0)  # a later batch of sellers: new addresses and bank accounts
        sellers = list(pool.map(new_seller, range(first, first + spec["sellers"])))
        codes = list(pool.map(mint, range(spec["vouchers"])))
    return {"sellers": sellers, "codes": codes}


def sell(http: httpx.Client, seller: dict[str, Any], code: str) -> str:
    """One trade as a seller makes it: a quote, then the submission; returns the trade id."""
    headers = {"Authorization": f"Bearer {seller['token']}", "X-Forwarded-For": seller["ip"]}
    quote = _ok(http.post("/quotes", json=QUOTE_BODY, headers=headers), 201)
    body = {
        "quote_id": quote["id"],
        "voucher": {"code": code},
        "acquisition": {"method": "gift", "acquired_on": "2026-11-01"},
        "payout_destination_id": seller["destination_id"],
    }
    trade_id: str = _ok(http.post("/trades", json=body, headers=headers), 202)["id"]
    return trade_id


def trades(spec: dict[str, Any], clients: Clients, progress: Callable[[int], None]) -> dict[str, Any]:
    """Submit one trade per voucher, sellers in turn, from `threads` threads at once."""
    apis: list[str] = [a + "/api/v1" for a in spec["apis"]]
    sellers: list[dict[str, Any]] = spec["sellers"]
    codes: list[str] = spec["codes"]
    done = itertools.count(1)

    def one(i: int) -> tuple[str, float]:
        start = time.perf_counter()
        trade_id = sell(clients.get(apis[i % len(apis)]), sellers[i % len(sellers)], codes[i])
        elapsed = time.perf_counter() - start
        progress(next(done))
        return trade_id, elapsed

    with ThreadPoolExecutor(spec.get("threads", 12)) as pool:
        results = list(pool.map(one, range(len(codes))))
    return {"trade_ids": [r[0] for r in results], "submit_seconds": [r[1] for r in results]}


def _schedule(rate: float, seconds: float) -> Iterator[float]:
    start = time.perf_counter() + 0.05
    for i in range(int(rate * seconds)):
        yield start + i / rate


def quotes(spec: dict[str, Any], clients: Clients, progress: Callable[[int], None]) -> dict[str, Any]:
    """Open loop: quotes sent on a fixed schedule at `rate`/s, latency from the scheduled time.

    `sellers` ({token, ip}) take turns, each from its own address (X-Forwarded-For).

    A request that could not be sent on time because every thread was busy still
    counts from its scheduled time, so a slow server cannot hide its queue.
    """
    apis: list[str] = [a + "/api/v1" for a in spec["apis"]]
    # Request i is seller i's (in turn), each from its own address; or one token, from this host.
    sellers: list[dict[str, Any]] = spec.get("sellers") or [{"token": spec["token"]}]
    each = [
        {"Authorization": f"Bearer {s['token']}", **({"X-Forwarded-For": s["ip"]} if s.get("ip") else {})}
        for s in sellers
    ]
    rate: float = spec["rate"]
    lock = threading.Lock()
    # A generator: the schedule's clock starts at the first `next`, after every thread is ready.
    slots = enumerate(_schedule(rate, spec["seconds"]))
    latencies: list[float] = []
    errors = itertools.count()
    done = itertools.count(1)

    ready = threading.Barrier(spec.get("threads", 64) + 1)

    def run() -> None:
        for api in apis:
            clients.get(api)
        ready.wait()
        while True:
            with lock:
                item = next(slots, None)
            if item is None:
                return
            i, due = item
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # open loop: wait for the send time
            try:
                response = clients.get(apis[i % len(apis)]).post(
                    "/quotes", json=QUOTE_BODY, headers=each[i % len(each)]
                )
                ok = response.status_code == 201
            except httpx.HTTPError:
                ok = False
            finished = time.perf_counter()
            if ok:
                with lock:
                    latencies.append(finished - due)
            else:
                next(errors)
            progress(next(done))

    threads = [threading.Thread(target=run) for _ in range(spec.get("threads", 64))]
    for t in threads:
        t.start()
    ready.wait()  # every thread has its clients before the first send
    begun = time.perf_counter()
    for t in threads:
        t.join()
    return {
        "latencies": latencies,
        "errors": next(errors),
        "seconds": time.perf_counter() - begun,
    }


MODES = {"setup": setup, "trades": trades, "quotes": quotes}


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    clients = Clients()
    emit("ready")
    sys.stdin.readline()
    lock = threading.Lock()
    last = [0.0]
    most = [0]

    def progress(n: int) -> None:
        now = time.monotonic()
        with lock:
            most[0] = max(most[0], n)
            if now - last[0] >= 0.2:  # a few lines a second, not one per request
                last[0] = now
                emit("progress", done=most[0])

    cpu_before = time.process_time()
    result = MODES[spec["mode"]](spec, clients, progress)
    cpu = time.process_time() - cpu_before
    clients.close()
    emit("progress", done=most[0])
    emit("result", cpu_seconds=cpu, peak_rss_mb=_peak_rss_mb(), **result)


if __name__ == "__main__":
    main()
