"""Shared CLI plumbing: settings from flags and environment, friendly errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from voucher_exchange.bootstrap import build_context
from voucher_exchange.config import Settings, load_settings
from voucher_exchange.context import Context
from voucher_exchange.errors import DomainError
from voucher_exchange.sandbox.inprocess import Sandboxes
from voucher_exchange.security.files import KeyFileExposed
from voucher_exchange.security.input_policy import shown

console = Console()
err = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="VX_DATABASE_URL", help="sqlite:///path or postgresql://…"),
]
SandboxUrl = Annotated[
    str | None,
    typer.Option("--sandbox-url", envvar="VX_SANDBOX_URL", help="Base URL of a running sandbox, …/sandbox"),
]
DEFAULT_SANDBOX = "http://127.0.0.1:8000/sandbox"
# `serve --demo` writes its sandboxes' address here, so `sandbox mint` finds a `make run PORT=…`.
RUNNING_SANDBOX_FILE = "serve-sandbox-url"


def running_sandbox(var_dir: Path) -> str:
    """The sandbox of the exchange running from this folder: the address `serve` recorded under
    var/, else PORT's (as `make run PORT=…` sets it), else port 8000."""
    recorded = var_dir / RUNNING_SANDBOX_FILE
    if recorded.is_file():
        text = recorded.read_text(encoding="utf-8").strip()
        if text.startswith("http://") or text.startswith("https://"):
            return text
    port = os.environ.get("PORT", "")
    return f"http://127.0.0.1:{port}/sandbox" if port.isdigit() else DEFAULT_SANDBOX


def settings(database_url: str | None = None, **overrides: object) -> Settings:
    """Environment settings with CLI flags on top."""
    try:
        return load_settings().with_overrides(database_url=database_url, **overrides)
    except DomainError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc


def build(cfg: Settings, sandbox_url: str, sandboxes: Sandboxes | None = None) -> Context:
    """A Context, or a clear message and exit code 2 when the encryption key is missing."""
    try:
        return build_context(cfg, sandbox_url, sandboxes=sandboxes)
    except (FileNotFoundError, KeyFileExposed) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


@contextmanager
def context(database_url: str | None, sandbox_url: str | None = None) -> Iterator[Context]:
    """A Context for one CLI command, closed afterwards; domain errors become clear messages."""
    cfg = settings(database_url)
    ctx = build(cfg, sandbox_url or cfg.sandbox_url or DEFAULT_SANDBOX)
    try:
        yield ctx
    except DomainError as exc:
        # A message may quote a file's text: never read as markup, control characters escaped.
        err.print(f"[red]{exc.code}:[/red] {escape(shown(exc.message))}")
        raise typer.Exit(1) from exc
    finally:
        ctx.close()


def write_json(data: object, file: Path | None) -> None:
    """Write an export to FILE, or to standard output (the command's output is the JSON itself)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if file:
        file.write_text(text + "\n", encoding="utf-8")
        console.print(f"[green]wrote[/green] {file}")
    else:
        print(text)  # noqa: T201
