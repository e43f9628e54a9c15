"""Run one `voucher-exchange` command in this process, as `run_cli` would run it in a child one.

The same Typer app as the installed entry point (`voucher_exchange.cli.main:app`), through
Typer's CliRunner: the working directory, a `VX_*`-free environment plus `env`, 200 columns,
separate stdout and stderr, and the exit code — without the ~3 s a new Python process spends
importing the package. An exception the command does not handle is exit code 1 with its
traceback on stderr, as in a child process. `tests/cli/test_commands.py` and
`test_forwarded_client_ip.py` still start the real entry point (`serve`, which configures
process-wide logging and runs a server, is only ever run there).
"""

from __future__ import annotations

import os
import subprocess
import traceback
from pathlib import Path

from typer.testing import CliRunner

from voucher_exchange.cli import common
from voucher_exchange.cli.main import app

_RUNNER = CliRunner()


def invoke_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one CLI command to completion in this process; the result reads like `run_cli`'s."""
    assert args[:1] not in (("serve",), ("worker",)), "serve and worker run as processes (run_cli, serving)"
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("VX_")}
    overrides |= {"COLUMNS": "200", **(env or {})}
    for console in (common.console, common.err):
        console.width = 200
    before = Path.cwd()
    os.chdir(cwd)
    try:
        result = _RUNNER.invoke(app, list(args), env=overrides)
    finally:
        os.chdir(before)
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess([*args], result.exit_code, result.stdout, stderr)
