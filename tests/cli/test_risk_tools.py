"""The risk tools on simulated data: simulate, backtest, shadow rule sets and their comparison."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cli import invoke_cli

pytestmark = pytest.mark.slow
TYPOLOGIES = ["velocity_burst", "duplicate_code", "mule_ring", "account_takeover", "carrier_billing_gift",
              "scam_victim_batch", "fresh_cashout"]  # fmt: skip


def _row(output: str, name: str) -> list[str]:
    line = next(x for x in output.splitlines() if x.startswith(f"│ {name} "))
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_simulate_then_backtest_and_compare_a_shadow_rule_set(tmp_path: Path) -> None:
    env = {"VX_VAR_DIR": str(tmp_path / "var")}
    sim = invoke_cli(tmp_path, "simulate", "--seed", "7", "--trades", "150", env=env)
    assert sim.returncode == 0, sim.stdout + sim.stderr
    honest = _row(sim.stdout, "honest")
    assert int(honest[1]) > 40 and honest[2] == "0"  # no honest seller held
    for typology in TYPOLOGIES:
        row = _row(sim.stdout, typology)
        assert int(row[1]) > 0 and int(row[3].split()[0]) > 0, row  # caught by the rule meant for it
    assert re.search(r"precision 100\.0%, recall \d+\.\d%", sim.stdout)

    db = f"sqlite:///{tmp_path}/var/simulation.db"
    exported = tmp_path / "live.json"
    assert (
        invoke_cli(
            tmp_path, "risk", "rules", "export", str(exported), "--database-url", db, env=env
        ).returncode
        == 0
    )
    backtest = invoke_cli(
        tmp_path, "risk", "backtest", "--rules", str(exported), "--database-url", db, env=env
    )
    assert backtest.returncode == 0, backtest.stderr
    velocity = _row(backtest.stdout, "seller_velocity_1h")
    assert int(velocity[1]) > 0 and velocity[3] == "100.0%"
    assert "all rules (review or reject)" in backtest.stdout

    candidate = json.loads(exported.read_text())
    candidate["version"] = "stricter-velocity"
    next(r for r in candidate["rules"] if r["id"] == "seller_velocity_1h")["when"]["value"] = 3
    (tmp_path / "candidate.json").write_text(json.dumps(candidate))
    published = invoke_cli(
        tmp_path,
        "risk",
        "rules",
        "publish",
        str(tmp_path / "candidate.json"),
        "--shadow",
        "--database-url",
        db,
        env=env,
    )
    assert published.returncode == 0, published.stderr
    again = invoke_cli(
        tmp_path, "risk", "rules", "publish", str(tmp_path / "candidate.json"), "--database-url", db, env=env
    )
    assert again.returncode == 1 and "ruleset_version_exists" in again.stderr

    assert invoke_cli(tmp_path, "simulate", "--seed", "8", "--trades", "60", env=env).returncode == 0
    compare = invoke_cli(tmp_path, "risk", "compare", "--database-url", db, env=env)
    assert compare.returncode == 0, compare.stderr
    assert "live vs stricter-velocity" in compare.stdout
    assert re.search(r"│ approve\s+│ review\s+│ \d+", compare.stdout)  # the stricter set holds more
    listing = invoke_cli(tmp_path, "risk", "rules", "list", "--database-url", db, env=env)
    assert "stricter-velocity" in listing.stdout and "shadow" in listing.stdout
