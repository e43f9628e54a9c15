"""`db backup` and `db restore`, with progress."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from voucher_exchange.cli.common import DatabaseUrl, console, err, settings
from voucher_exchange.db import backup as backups
from voucher_exchange.errors import DomainError

db_app = typer.Typer(help="Backups of the exchange's database.", no_args_is_help=True)


def _run(label: str, action: object) -> None:
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task(label, total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            action(step)  # type: ignore[operator]
        except DomainError as exc:
            err.print(f"[red]{exc.code}:[/red] {exc.message}")
            raise typer.Exit(1) from exc
        except subprocess.CalledProcessError as exc:
            err.print(f"[red]{label} failed:[/red] {(exc.stderr or b'').decode(errors='replace')[:500]}")
            raise typer.Exit(1) from exc


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Copy the database to FILE while the exchange keeps running."""
    url = settings(database_url).database_url
    _run("backing up", lambda step: backups.backup(url, file, step))
    console.print(f"[green]backup written[/green] {file} ({file.stat().st_size:,} bytes)")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A file made by `db backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace a database that already has data.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Load a backup into the database (stop the exchange first). Then run `ledger verify`."""
    url = settings(database_url).database_url
    _run("restoring", lambda step: backups.restore(url, file, yes, step))
    console.print(f"[green]restored[/green] {file}. Check it: voucher-exchange ledger verify")
