"""A backup restored into an empty database passes `ledger verify` with the same books."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import database_url
from tests.support.cli import invoke_cli
from tests.support.exchange import Exchange, Seller

pytestmark = pytest.mark.both_backends


def _env(exchange: Exchange) -> dict[str, str]:
    return {"VX_VAR_DIR": str(exchange.var_dir), "PATH": os.environ["PATH"]}


def _paid_trades(output: str) -> int:
    found = re.search(r"paid_trades\s*│\s*(\d+)", output)
    assert found, output
    return int(found.group(1))


def test_backup_then_restore_keeps_the_books(
    exchange: Exchange, seller: Seller, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    assert seller.api.wait_for(seller.sell(exchange.mint()))["status"] == "paid"
    env = _env(exchange)
    source = invoke_cli(tmp_path, "ledger", "verify", "--database-url", exchange.database_url, env=env)
    assert source.returncode == 0, source.stdout + source.stderr

    backup_file = tmp_path / "vx.backup"
    made = invoke_cli(
        tmp_path, "db", "backup", str(backup_file), "--database-url", exchange.database_url, env=env
    )
    assert made.returncode == 0, made.stderr
    assert "backup written" in made.stdout

    backend = "sqlite" if exchange.database_url.startswith("sqlite") else "postgresql"
    target = database_url(request, backend, tmp_path, "vx_restored")
    restored = invoke_cli(tmp_path, "db", "restore", str(backup_file), "--database-url", target, env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr

    check = invoke_cli(tmp_path, "ledger", "verify", "--database-url", target, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "all invariants hold" in check.stdout
    assert _paid_trades(check.stdout) == _paid_trades(source.stdout) >= 1

    again = invoke_cli(tmp_path, "db", "restore", str(backup_file), "--database-url", target, env=env)
    assert again.returncode == 1
    assert "database_not_empty" in again.stderr
    forced = invoke_cli(
        tmp_path, "db", "restore", str(backup_file), "--yes", "--database-url", target, env=env
    )
    assert forced.returncode == 0, forced.stderr


def test_a_backup_is_readable_by_its_owner_only_whatever_the_umask(
    exchange: Exchange, tmp_path: Path
) -> None:
    env = _env(exchange)
    fresh, existing = tmp_path / "new" / "vx.backup", tmp_path / "old.backup"
    existing.write_bytes(b"an older backup")
    existing.chmod(0o644)
    was = os.umask(0o022)  # an operator's usual shell: files 0644 unless the program says otherwise
    try:
        made = [
            invoke_cli(tmp_path, "db", "backup", str(f), "--database-url", exchange.database_url, env=env)
            for f in (fresh, existing)
        ]
    finally:
        os.umask(was)

    assert [m.returncode for m in made] == [0, 0], [m.stderr for m in made]
    assert [f.stat().st_mode & 0o777 for f in (fresh, existing)] == [0o600, 0o600]
    assert fresh.parent.stat().st_mode & 0o777 == 0o700
    assert existing.read_bytes()[:15] != b"an older backup"
