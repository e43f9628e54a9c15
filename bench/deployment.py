"""The exchange as the bench runs it: real processes on loopback, each with a known pid.

PostgreSQL: one sandbox, N API processes (`serve --no-worker`) and M worker processes
(`worker --concurrency 2`). SQLite: one sandbox and one `serve` process with its
in-process worker threads (the embedded shape; workers in other processes would share
the file through locks, which the project does not recommend). Either way the data is
seeded first by one short `serve --demo` run, so the measured processes run without
`--demo` (no local mail server; notice jobs are claimed and finished, nothing is sent).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.support.polling import poll_until
from tests.support.processes import CLI, free_port


@dataclass
class Deployment:
    """The running processes, by role."""

    base: Path
    database_url: str
    sandbox_url: str = ""
    api_urls: list[str] = field(default_factory=list)
    batch: int = 1  # VX_WORKER_BATCH_SIZE: how many ready trades a worker thread takes at once
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. VX_TRACEMALLOC for the soak
    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Environment of every exchange process."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VX_")}
        return {
            **clean,
            "VX_DATABASE_URL": self.database_url,
            "VX_SANDBOX_URL": self.sandbox_url,
            "VX_VAR_DIR": str(self.base / "var"),
            # The generator runs on this host and sends each seller's address as X-Forwarded-For.
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            # The quote phase asks thousands of quotes of one account in seconds: the limits
            # are still counted (their cost is measured), just not reached.
            "VX_RATE_LIMIT_MULTIPLIER": "1000",
            # Payouts are sent whatever the time of day: in the banks' nightly window (23:30-00:30
            # KST) they would queue until it ends and a run would stall there.
            "VX_BANK_WINDOW": "off",
            "VX_WORKER_BATCH_SIZE": str(self.batch),
            **self.extra_env,
        }

    def spawn(self, role: str, args: list[str]) -> subprocess.Popen[bytes]:
        """Start one process of `role`, its output in base/<role>-<n>.log."""
        mine = self.procs.setdefault(role, [])
        with (self.base / f"{role}-{len(mine)}.log").open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603  # our own CLI, fixed arguments
                [*CLI, *args], env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        mine.append(proc)
        return proc

    def pids(self) -> dict[str, list[int]]:
        """Process ids by role."""
        return {role: [p.pid for p in procs] for role, procs in self.procs.items()}


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    poll_until(ready, timeout=90, interval=0.1, what=url)


def _wait_logged(log: Path, line: str, proc: subprocess.Popen[bytes]) -> None:
    # Started means past its imports: their CPU must not land in the measured window.
    def started() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name}: exited with {proc.returncode}")
        return line in log.read_text(errors="replace")

    poll_until(started, timeout=90, interval=0.1, what=f"{line!r} in {log}")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _api(deployment: Deployment, role: str, args: list[str]) -> str:
    port = free_port()
    proc = deployment.spawn(role, ["serve", "--port", str(port), *args])
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url + "/readyz", proc)
    return url


@contextmanager
def deploy(
    base: Path,
    database_url: str,
    apis: int,
    workers: int,
    batch: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Deployment]:
    """Migrate, seed, start everything; stop everything on exit.

    `workers=0` means one `serve` process with its own worker threads (the SQLite shape).
    """
    base.mkdir(parents=True, exist_ok=True)
    deployment = Deployment(base, database_url, batch=batch, extra_env=dict(extra_env or {}))
    try:
        port = free_port()
        deployment.sandbox_url = f"http://127.0.0.1:{port}/sandbox"
        sandbox = deployment.spawn("sandbox", ["sandbox", "serve", "--port", str(port)])
        _wait_ready(deployment.sandbox_url + "/rail/transfers", sandbox)
        # Migrates, creates the key, loads the catalog and funds the treasury; then stops.
        _api(deployment, "seed", ["--demo", "--no-worker"])
        _stop(deployment.procs.pop("seed"))
        if workers:
            deployment.api_urls = [_api(deployment, "api", ["--no-worker"]) for _ in range(apis)]
            for n in range(workers):
                proc = deployment.spawn("worker", ["worker", "--concurrency", "2"])
                _wait_logged(base / f"worker-{n}.log", "worker running", proc)
        else:
            deployment.api_urls = [_api(deployment, "api", [])]
        yield deployment
    finally:
        _stop([p for procs in deployment.procs.values() for p in procs])
