"""Run `voucher-exchange` as a real child process.

`run_cli` and `serving` start the installed entry point (the `voucher-exchange` script that
`pip install` put beside this Python); most tests run one-off commands in-process instead
(tests/support/cli.py). Long-running processes of a deployment use `CLI`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.polling import poll_until

CLI = [sys.executable, "-m", "voucher_exchange.cli.main"]
# The console script `[project.scripts]` installs: the command a person types.
ENTRY_POINT = [str(Path(sys.executable).with_name("voucher-exchange"))]


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one CLI command to completion."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VX_")}
    clean["VX_BANK_WINDOW"] = "off"  # no payout queues for the banks' window by the time of day
    return subprocess.run(
        [*ENTRY_POINT, *args], cwd=cwd, env={**clean, "COLUMNS": "200", **(env or {})},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def serving(cwd: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """`voucher-exchange serve …` on a free port; yields (base URL, log file)."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VX_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*ENTRY_POINT, "serve", "--port", str(port), *args], cwd=cwd,
            env={**clean, "COLUMNS": "200", "VX_RATE_LIMIT_MULTIPLIER": "1000", "VX_BANK_WINDOW": "off"},
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: proc.poll() is not None or _ready(url), timeout=60, what="the server to be ready")
        assert proc.poll() is None, log.read_text()
        yield url, log
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
