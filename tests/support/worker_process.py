"""A worker as its own process on a running exchange's database, optionally killed at a crash point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.exchange import Exchange


def start_worker(
    exchange: Exchange, log: Path, crash_at: str | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`voucher-exchange worker` against `exchange`; with `crash_at`, it SIGKILLs itself there."""
    env = {
        **os.environ,
        "VX_DATABASE_URL": exchange.database_url,
        "VX_SANDBOX_URL": exchange.sandbox_url,
        "VX_VAR_DIR": str(exchange.var_dir),
        "VX_JOB_LEASE_SECONDS": "2",
        "VX_HTTP_TIMEOUT_SECONDS": "1",
        "VX_WORKER_POLL_SECONDS": "0.05",
        "VX_BANK_WINDOW": "off",
        **(extra_env or {}),
    }
    env.pop("VX_CRASH_AT", None)
    if crash_at:
        env["VX_CRASH_AT"] = crash_at
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "voucher_exchange.cli.main", "worker", "--concurrency", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
