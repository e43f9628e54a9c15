"""`keys rotate`: move every secret to a new master key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from voucher_exchange.cli.common import DatabaseUrl, console, err, settings
from voucher_exchange.clock import SystemClock
from voucher_exchange.db.engine import make_engine
from voucher_exchange.rotation.service import rotate_master_key
from voucher_exchange.security.vault import KEY_BYTES, Vault, load_or_create_master_key

keys_app = typer.Typer(help="The data-encryption master key.", no_args_is_help=True)


@keys_app.command("rotate")
def keys_rotate(
    new_key: Annotated[Path, typer.Option(help="A file holding 32 random bytes (head -c 32 /dev/urandom).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Re-encrypt every secret with NEW_KEY, then install it (stop the API and workers first)."""
    cfg = settings(database_url)
    current = load_or_create_master_key(cfg.key_path, create=False)
    fresh = new_key.read_bytes()
    if len(fresh) != KEY_BYTES or fresh == current:
        err.print(
            f"[red]{new_key} must hold 32 new random bytes.[/red] Make one: head -c 32 /dev/urandom > FILE"
        )
        raise typer.Exit(2)
    engine = make_engine(cfg.database_url)
    with Progress(TextColumn("re-encrypting"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        task = bar.add_task("rotate", total=None)
        summary = rotate_master_key(
            engine,
            Vault(current),
            Vault(fresh),
            SystemClock(),
            lambda done, total: bar.update(task, completed=done, total=total),
            document_dir=cfg.identity_document_dir,
        )
    engine.dispose()
    old_copy = cfg.key_path.with_suffix(".key.old")
    cfg.key_path.replace(old_copy)
    cfg.key_path.write_bytes(fresh)
    cfg.key_path.chmod(0o600)
    console.print(
        f"[green]rotated[/green] {summary.trades} trades, {summary.claims} claims, "
        f"{summary.destinations} payout destinations, {summary.documents} ID documents. "
        f"New key installed at {cfg.key_path}; "
        f"the old one is {old_copy}. Copy the new key to every host before starting them."
    )
