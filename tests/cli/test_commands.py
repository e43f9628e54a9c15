"""The command line, run as a person would, in a fresh directory.

`serve` runs as the installed `voucher-exchange` entry point in a child process (the smoke
tests of the real command); the other commands run in this process (tests/support/cli.py),
on a copy of the var/ directory one `serve --demo` made for this file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.support.cli import invoke_cli
from tests.support.processes import run_cli, serving
from voucher_exchange.demo import DEMO_TOTP_SECRET

pytestmark = pytest.mark.slow


def test_serve_demo_runs_everything_and_prints_the_login(tmp_path: Path) -> None:
    with serving(tmp_path, "--demo") as (url, log):
        brands = httpx.get(url + "/api/v1/brands").json()["brands"]
        assert {b["currency"] for b in brands} == {"KRW"}
        output = log.read_text()
        assert "demo operator: operator@demo.voucher-exchange.test / demo-operator-pass" in output
        assert f"demo staff two-factor key (both): {DEMO_TOTP_SECRET}" in output
        login = {"email": "operator@demo.voucher-exchange.test", "password": "demo-operator-pass"}
        refused = httpx.post(url + "/api/v1/sessions", json=login)
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, "totp_required")
        # Enrolment at start spent the current step: the next one is still accepted.
        code = pyotp.TOTP(DEMO_TOTP_SECRET).at(time.time() + 30)
        token = httpx.post(url + "/api/v1/sessions", json=login | {"totp": code}).json()["token"]
        me = httpx.get(url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["roles"] == ["operator", "reveal_codes"]
        minted = invoke_cli(tmp_path, "sandbox", "mint", "--brand", "booknlife", "--face-value", "10000",
                         "--sandbox-url", url + "/sandbox")  # fmt: skip
        assert minted.returncode == 0, minted.stderr
        assert minted.stdout.startswith("code: ") and "pin: " in minted.stdout
    assert (tmp_path / "var" / "voucher-exchange.db").exists()
    assert (tmp_path / "var" / "keys" / "master.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "var" / "sandbox" / "sandbox.db").exists()


def test_serve_demo_in_the_us_sells_dollar_brands(tmp_path: Path) -> None:
    with serving(tmp_path, "--demo", "--jurisdiction", "US") as (url, _):
        brands = {b["slug"] for b in httpx.get(url + "/api/v1/brands").json()["brands"]}
        assert brands == {"amazon-us", "apple-us", "google-play-us", "steam-us", "target-us"}
        token = httpx.post(
            url + "/api/v1/accounts", json={"email": "us@example.com", "password": "long-enough-pass"}
        )
        auth = {"Authorization": f"Bearer {token.json()['token']}"}
        quote = httpx.post(
            url + "/api/v1/quotes", headers=auth,
            json={"brand": "amazon-us", "face_value": {"amount": 2500, "currency": "USD"}},
        ).json()  # fmt: skip
        assert (quote["fee"], quote["payout"]) == (
            {"amount": 375, "currency": "USD"},
            {"amount": 2125, "currency": "USD"},
        )
        korean = httpx.post(
            url + "/api/v1/quotes", headers=auth,
            json={"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}},
        )  # fmt: skip
        assert (korean.status_code, korean.json()["error"]["code"]) == (422, "currency_mismatch")


def test_serve_without_demo_needs_a_key_and_a_migrated_database(tmp_path: Path, demo_var: Path) -> None:
    no_key = run_cli(tmp_path, "serve", "--database-url", f"sqlite:///{tmp_path}/empty.db")
    assert no_key.returncode == 2
    assert "No encryption key at var/keys/master.key" in no_key.stderr
    env = _demo_db(tmp_path, demo_var)
    unmigrated = run_cli(tmp_path, "serve", "--database-url", f"sqlite:///{tmp_path}/empty.db", env=env)
    assert unmigrated.returncode == 2
    assert "Run: voucher-exchange migrate" in unmigrated.stdout
    assert run_cli(tmp_path, "migrate", "--database-url", f"sqlite:///{tmp_path}/empty.db").returncode == 0


@pytest.fixture(scope="module")
def demo_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The var/ directory `serve --demo` leaves behind (key, migrated and seeded database, sandbox)."""
    made = tmp_path_factory.mktemp("demo")
    with serving(made, "--demo"):
        pass
    return made / "var"


def _demo_db(tmp_path: Path, demo_var: Path) -> dict[str, str]:
    """A copy of the demo's var/ in this test's directory (modes kept: the key stays 0600)."""
    shutil.copytree(demo_var, tmp_path / "var", dirs_exist_ok=True)
    return {"VX_VAR_DIR": str(tmp_path / "var")}


def test_catalog_export_edit_import_keeps_rate_history(tmp_path: Path, demo_var: Path) -> None:
    env = _demo_db(tmp_path, demo_var)
    exported = tmp_path / "catalog.json"
    assert invoke_cli(tmp_path, "catalog", "export", str(exported), env=env).returncode == 0
    data = json.loads(exported.read_text())
    culture = next(b for b in data["brands"] if b["slug"] == "cultureland")
    culture["rates"] = [{"min_face": 0, "rate_bps": 9200}]
    exported.write_text(json.dumps(data, ensure_ascii=False))
    imported = invoke_cli(tmp_path, "catalog", "import", str(exported), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "0 new, 11 updated, 1 new rate versions" in imported.stdout
    listed = invoke_cli(tmp_path, "catalog", "list", env=env).stdout
    line = next(x for x in listed.splitlines() if "cultureland" in x)
    assert "92.00%" in line and "│ 2 " in line


def test_catalog_import_explains_a_broken_file(tmp_path: Path, demo_var: Path) -> None:
    env = _demo_db(tmp_path, demo_var)
    bad = tmp_path / "bad.json"
    bad.write_text('{"brands": [{"slug": "x"}]}')
    result = invoke_cli(tmp_path, "catalog", "import", str(bad), env=env)
    assert result.returncode == 1
    assert "catalog_invalid" in result.stderr and "Brand x" in result.stderr


def test_users_create_makes_staff_who_can_log_in(tmp_path: Path, demo_var: Path) -> None:
    env = _demo_db(tmp_path, demo_var)
    result = invoke_cli(
        tmp_path, "users", "create", "--email", "rev@example.com", "--password", "reviewer-pass-1", "--role",
        "reviewer", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rev@example.com now has roles: reviewer" in result.stdout


def test_users_create_bootstraps_two_operators_and_then_refuses(tmp_path: Path, demo_var: Path) -> None:
    env = _demo_db(tmp_path, demo_var)  # the demo has one operator: one more may be made here
    second = invoke_cli(
        tmp_path, "users", "create", "--email", "op2@example.com", "--password", "operator-pass-2", "--role",
        "operator", env=env,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    third = invoke_cli(
        tmp_path, "users", "create", "--email", "op3@example.com", "--password", "operator-pass-3", "--role",
        "operator", env=env,
    )  # fmt: skip
    assert third.returncode == 1
    assert "staff_bootstrap_closed" in third.stderr and "/staff/team" in third.stderr
    with sqlite3.connect(tmp_path / "var" / "voucher-exchange.db") as db:
        assert db.execute("SELECT count(*) FROM users WHERE email = 'op3@example.com'").fetchone() == (0,)


def test_ledger_verify_fails_on_a_broken_ledger(tmp_path: Path, demo_var: Path) -> None:
    env = _demo_db(tmp_path, demo_var)
    ok = invoke_cli(tmp_path, "ledger", "verify", env=env)
    assert ok.returncode == 0 and "all invariants hold" in ok.stdout
    with sqlite3.connect(tmp_path / "var" / "voucher-exchange.db") as db:
        db.execute("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE code = 'treasury'")
    broken = invoke_cli(tmp_path, "ledger", "verify", env=env)
    assert broken.returncode == 1
    assert "violation: account treasury (KRW) totals differ from its transfers" in broken.stdout
