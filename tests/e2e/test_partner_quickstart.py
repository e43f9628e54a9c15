"""docs/partner_quickstart.py works: the integrator's first program, run against a live exchange.

The quick start in docs/partners.md points at this file; running it here keeps it true (a key
sells a voucher and `trade.paid` arrives, verified by the official `standardwebhooks` library).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.exchange import Exchange

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "partner_quickstart.py"


def test_the_partner_quick_start_sells_with_a_key_and_verifies_trade_paid(exchange: Exchange) -> None:
    env = {**os.environ, "VX_API": exchange.base_url + "/api/v1", "VX_SANDBOX": exchange.sandbox_url}
    run = subprocess.run(
        [sys.executable, str(QUICKSTART)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sold, paid = run.stdout.splitlines()
    assert sold.startswith("sold: trade ") and sold.endswith("45,500 KRW quoted")
    assert paid.startswith("trade.paid verified: evt_") and paid.endswith("status paid")
