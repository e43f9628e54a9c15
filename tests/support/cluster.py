"""A production-shaped deployment on one machine: PostgreSQL, one sandbox process,
N API processes and M worker processes, all real child processes on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.polling import poll_until
from tests.support.processes import CLI, free_port

REPO = Path(__file__).resolve().parents[2]  # `tests.support.hashing` is importable from here


@dataclass
class Cluster:
    """Handles to the running processes."""

    base: Path
    database_url: str
    sandbox_url: str
    api_urls: list[str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=lambda: list(CLI))

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a process of this deployment."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VX_")}
        return {
            **clean,
            "VX_DATABASE_URL": self.database_url,
            "VX_SANDBOX_URL": self.sandbox_url,
            "VX_VAR_DIR": str(self.base / "var"),
            "VX_JOB_LEASE_SECONDS": "5",
            # Load from one address (thousands of sign-ups, quotes and trades) is the point here.
            "VX_RATE_LIMIT_MULTIPLIER": "1000",
            # Payouts do not queue for the banks' nightly window whatever the time of day.
            "VX_BANK_WINDOW": "off",
            **self.extra_env,
            **extra,
        }

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.base / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [*self.command, *args], env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )

    def start_worker(self) -> subprocess.Popen[bytes]:
        """One more worker process (two threads)."""
        worker = self._spawn(f"worker-{len(self.workers)}", ["worker", "--concurrency", "2"])
        self.workers.append(worker)
        return worker

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A one-off CLI command against this deployment."""
        return subprocess.run(
            [*self.command, *args],
            env=self.env(COLUMNS="200"),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _wait_ready(url: str, proc: subprocess.Popen[bytes], path: str) -> None:
    def ready() -> bool:
        assert proc.poll() is None, f"process for {url} exited with {proc.returncode}"
        try:
            return httpx.get(url + path, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    poll_until(ready, timeout=60, interval=0.1, what=f"{url}{path}")


@contextmanager
def cluster(
    base: Path,
    database_url: str,
    api_count: int = 2,
    worker_count: int = 3,
    extra_env: dict[str, str] | None = None,
    test_password_cost: bool = False,
) -> Iterator[Cluster]:
    """Start everything; stop everything (SIGTERM, then SIGKILL) on exit.

    `test_password_cost`: the processes hash passwords at the test cost (tests/support/hashing.py),
    for tests that sign up hundreds of sellers to check something else; benchmarks keep the real one.
    """
    sandbox_port = free_port()
    env = dict(extra_env or {})
    command = list(CLI)
    if test_password_cost:
        command = [sys.executable, "-m", "tests.support.hashing"]
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    deployment = Cluster(
        base, database_url, f"http://127.0.0.1:{sandbox_port}/sandbox", [], extra_env=env, command=command
    )
    try:
        migrated = deployment.run("migrate")
        assert migrated.returncode == 0, migrated.stderr
        sandbox = deployment._spawn("sandbox", ["sandbox", "serve", "--port", str(sandbox_port)])
        deployment.others.append(sandbox)
        _wait_ready(f"http://127.0.0.1:{sandbox_port}", sandbox, "/sandbox/rail/transfers")
        for i in range(api_count):
            port = free_port()
            # --demo on the first start seeds the catalog, operator and treasury (idempotent).
            api = deployment._spawn(f"api-{i}", ["serve", "--demo", "--no-worker", "--port", str(port)])
            deployment.others.append(api)
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, api, "/readyz")
            deployment.api_urls.append(url)
        for _ in range(worker_count):
            deployment.start_worker()
        yield deployment
    finally:
        for proc in deployment.workers + deployment.others:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in deployment.workers + deployment.others:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
