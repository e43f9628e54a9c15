"""Login flood: memory and latency of other requests while 100 concurrent bad log-ins run.

Starts `voucher-exchange serve --demo` in a process of its own (SQLite, var/ in a temporary
directory), measures `GET /api/v1/brands` latency alone, then again while FLOODERS
threads post wrong passwords to `POST /api/v1/sessions` for SECONDS, sampling the
server's resident memory (/proc/<pid>/status) all along. Two runs:

- "limits as shipped": the per-address log-in limit answers most of the flood with 429
  before any hash is computed;
- "limits lifted" (VX_RATE_LIMIT_MULTIPLIER=1000): every attempt reaches the password
  check, so only the bounded hashing pool (VX_PASSWORD_HASH_SLOTS, default 1) protects.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

console = Console()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def _server(multiplier: int) -> Iterator[tuple[str, int]]:
    port = _free_port()
    var_dir = tempfile.mkdtemp(prefix="vx-bench-login-")
    env = {**os.environ, "VX_VAR_DIR": var_dir, "VX_RATE_LIMIT_MULTIPLIER": str(multiplier)}
    process = subprocess.Popen(  # noqa: S603  # our own CLI, fixed arguments
        [sys.executable, "-m", "voucher_exchange.cli.main", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("the server did not become ready in 60 s")
    try:
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Run:
    name: str
    baseline_p50: float
    baseline_p99: float
    flood_p50: float
    flood_p99: float
    rss_before: float
    rss_peak: float
    logins: Counter[int]
    seconds: float


def _probe(url: str, stop: threading.Event, latencies: list[float], minimum: int = 0) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set() or len(latencies) < minimum:
            started = time.perf_counter()
            client.get("/api/v1/brands")
            latencies.append(time.perf_counter() - started)


def _flood(url: str, flooders: int, seconds: float, answers: multiprocessing.Queue[dict[int, int]]) -> None:
    """FLOODERS threads posting wrong passwords for `seconds`; the status counts go to `answers`."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def guess() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while time.monotonic() < deadline:
                email = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
                answer = client.post("/api/v1/sessions", json={"email": email, "password": "wrong-password"})
                with lock:
                    statuses[answer.status_code] += 1

    threads = [threading.Thread(target=guess) for _ in range(flooders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answers.put(dict(statuses))


def measure(name: str, multiplier: int, flooders: int, seconds: float) -> Run:
    with _server(multiplier) as (url, pid):
        baseline: list[float] = []
        done = threading.Event()
        done.set()
        _probe(url, done, baseline, minimum=200)
        rss_before = _rss_mib(pid)

        # The flood runs in a process of its own, so its threads do not slow the prober's client.
        answers: multiprocessing.Queue[dict[int, int]] = multiprocessing.Queue()
        flood = multiprocessing.Process(target=_flood, args=(url, flooders, seconds + 0.5, answers))
        flood.start()
        time.sleep(0.5)  # let the flood build up
        stop = threading.Event()
        during: list[float] = []
        prober = threading.Thread(target=_probe, args=(url, stop, during))
        prober.start()
        peak = rss_before
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            peak = max(peak, _rss_mib(pid))
            time.sleep(0.05)
        stop.set()
        prober.join()
        statuses = Counter(answers.get(timeout=120))
        console.print(f"{name}: {len(during)} requests measured under the flood, {len(baseline)} alone")
        flood.join()
        return Run(
            name,
            _p(baseline, 0.5),
            _p(baseline, 0.99),
            _p(during, 0.5) if during else float("nan"),
            _p(during, 0.99) if during else float("nan"),
            rss_before,
            max(peak, _rss_mib(pid, "VmHWM")),
            statuses,
            seconds,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flooders", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    runs = [
        measure("limits as shipped", 1, args.flooders, args.seconds),
        measure("limits lifted (hash pool only)", 1000, args.flooders, args.seconds),
    ]
    table = Table(
        title=f"{args.flooders} concurrent bad log-ins for {args.seconds:.0f} s; other requests: GET /api/v1/brands"
    )
    for column in (
        "run",
        "other p50 ms",
        "other p99 ms",
        "p50 under flood",
        "p99 under flood",
        "RSS before MiB",
        "RSS peak MiB",
        "log-in answers",
        "log-ins/s",
    ):
        table.add_column(column)
    for run in runs:
        answers = ", ".join(f"{code}: {n}" for code, n in sorted(run.logins.items()))
        table.add_row(
            run.name,
            f"{run.baseline_p50:.1f}",
            f"{run.baseline_p99:.1f}",
            f"{run.flood_p50:.1f}",
            f"{run.flood_p99:.1f}",
            f"{run.rss_before:.0f}",
            f"{run.rss_peak:.0f}",
            answers,
            f"{sum(run.logins.values()) / run.seconds:.0f}",
        )
    console.print(table)
    console.print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    console.print(
        f"median other-request latency under flood / alone: {statistics.median([r.flood_p50 / r.baseline_p50 for r in runs]):.1f}x"
    )


if __name__ == "__main__":
    main()
