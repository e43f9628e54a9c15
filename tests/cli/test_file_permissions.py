"""var/ is owner-only; an exposed key file is refused with the command that fixes it (issue 12, item 7)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voucher_exchange.bootstrap import build_context
from voucher_exchange.cli.main import app
from voucher_exchange.config import Settings
from voucher_exchange.db import migrate
from voucher_exchange.security.files import KeyFileExposed


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_is_created_owner_only_and_its_files_are_0600(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    (var_dir / "old.log").write_text("written before")
    (var_dir / "old.log").chmod(0o644)
    settings = Settings(database_url=f"sqlite:///{var_dir}/vx.db", var_dir=var_dir, demo=True)
    ctx = build_context(settings, "http://127.0.0.1:9/sandbox")
    try:
        migrate.upgrade(ctx.engine)
    finally:
        ctx.close()
    assert _mode(var_dir) == 0o700
    assert _mode(var_dir / "keys") == 0o700
    assert _mode(settings.key_path) == 0o600
    assert _mode(var_dir / "vx.db") == 0o600
    assert _mode(var_dir / "old.log") == 0o600


def test_a_key_file_others_can_read_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var_dir = tmp_path / "var"
    settings = Settings(database_url=f"sqlite:///{var_dir}/vx.db", var_dir=var_dir, demo=True)
    build_context(settings, "http://127.0.0.1:9/sandbox").close()
    settings.key_path.chmod(0o644)
    with pytest.raises(KeyFileExposed) as refused:
        build_context(settings, "http://127.0.0.1:9/sandbox")
    assert f"chmod 600 {settings.key_path}" in str(refused.value)
    assert _mode(settings.key_path) == 0o644  # noticed, not silently hidden

    monkeypatch.setenv("VX_VAR_DIR", str(var_dir))
    result = CliRunner().invoke(app, ["catalog", "list"], env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert "chmod 600" in result.output and "readable by other users" in result.output
