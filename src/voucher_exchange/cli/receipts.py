"""`receipt verify` (works offline with a keys file) and `receipt keys rotate|list`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from voucher_exchange.cli.common import DatabaseUrl, console, err, settings
from voucher_exchange.clock import SystemClock
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.receipts import keyfiles
from voucher_exchange.receipts import service as receipt_service
from voucher_exchange.receipts.models import (
    EVIDENCE_FIELD,
    KEYS_PATH,
    NOTICE_FIELD,
    DocumentRefused,
    parse_document,
    parse_keys,
    verify,
)

receipt_app = typer.Typer(help="Signed receipts: verify one, rotate the signing key.", no_args_is_help=True)
keys_app = typer.Typer(help="The receipt-signing keys.", no_args_is_help=True)
receipt_app.add_typer(keys_app, name="keys")


def _read_json(source: str, what: str, strict: bool = False) -> Any:
    """JSON from a file, or from an http(s) URL; exit 2 with a clear message when unreadable.

    `strict` (a receipt): a key named twice or a value not written plainly is invalid, exit 1.
    """
    try:
        if source.startswith(("http://", "https://")):
            response = httpx.get(source, timeout=10, follow_redirects=True)
            response.raise_for_status()
            return response.json()
        text = Path(source).read_text(encoding="utf-8")
        return parse_document(text) if strict else json.loads(text)
    except DocumentRefused as exc:
        console.print(f"[red bold]invalid[/red bold] ({exc.code}): {escape(exc.message)}")
        raise typer.Exit(1) from exc
    except (OSError, httpx.HTTPError) as exc:
        err.print(f"[red]Cannot read the {what} from {source}:[/red] {type(exc).__name__}")
        raise typer.Exit(2) from exc
    except (ValueError, RecursionError) as exc:
        err.print(f"[red]The {what} at {source} is not JSON.[/red]")
        raise typer.Exit(2) from exc


@receipt_app.command("verify")
def receipt_verify(
    file: Annotated[
        Path, typer.Argument(help="The receipt JSON, as GET /api/v1/trades/{id}/receipt returns it.")
    ],
    keys: Annotated[
        str | None,
        typer.Option(help="A keys file or URL (default: this deployment's published keys at VX_PUBLIC_URL)."),
    ] = None,
) -> None:
    """Check a receipt's Ed25519 signature: exit 0 when valid, 1 when not (and say what is wrong)."""
    source = keys or settings().public_url.rstrip("/") + KEYS_PATH
    document = _read_json(str(file), "receipt", strict=True)
    try:
        public_keys = parse_keys(_read_json(source, "keys"))
    except ValueError as exc:
        err.print(f"[red]{source}: {exc}[/red]")
        raise typer.Exit(2) from exc
    verdict = verify(document, public_keys)
    if not verdict.valid:
        console.print(f"[red bold]invalid[/red bold] ({verdict.code}): {escape(verdict.message)}")
        raise typer.Exit(1)
    if verdict.kind == NOTICE_FIELD:
        notice = document[NOTICE_FIELD]
        trade_id, at = escape(str(notice.get("trade_id"))), escape(str(notice.get("reversed_at")))
        console.print(
            f"[green bold]valid reversal notice[/green bold]: trade {trade_id} was reversed at {at}, "
            f"signed by key {verdict.key_id}"
        )
        return
    if verdict.kind == EVIDENCE_FIELD:
        record = document[EVIDENCE_FIELD]
        trade_id, reason = escape(str(record.get("trade_id"))), escape(str(record.get("reason")))
        console.print(
            f"[green bold]valid evidence record[/green bold]: trade {trade_id} ({reason}), "
            f"{len(record.get('facts') or [])} fact(s), signed by key {verdict.key_id}"
        )
        return
    trade_id = escape(str(document["receipt"].get("trade_id")))
    console.print(f"[green bold]valid[/green bold]: trade {trade_id}, signed by key {verdict.key_id}")


@keys_app.command("rotate")
def keys_rotate(database_url: DatabaseUrl = None) -> None:
    """Make a new signing key; older keys stay published, so receipts they signed stay valid."""
    cfg = settings(database_url)
    engine = make_engine(cfg.database_url)
    try:
        rotation, removed = receipt_service.rotate_signing_key(
            engine, cfg.receipt_key_dir, SystemClock().now()
        )
    finally:
        engine.dispose()
    console.print(
        f"[green]new signing key[/green] {rotation.key_id} in {cfg.receipt_key_dir}; "
        f"retired {', '.join(rotation.retired) or 'none'} "
        f"(still published; {removed} private key file(s) deleted). "
        "Back up the new key file and copy it to every API host."
    )


@keys_app.command("list")
def keys_list(database_url: DatabaseUrl = None) -> None:
    """Every published key: when it was made, whether it still signs, whether this host holds it."""
    cfg = settings(database_url)
    engine = make_engine(cfg.database_url)
    try:
        with UnitOfWork(engine, readonly=True) as uow:
            keys = receipt_service.published_keys(uow.conn)
    finally:
        engine.dispose()
    table = Table("key_id", "created", "status", "private key here")
    for key in keys:
        status = f"retired {key.retired_at:%Y-%m-%d}" if key.retired_at else "signing"
        held = "yes" if keyfiles.held(cfg.receipt_key_dir, key.key_id) else "no"
        table.add_row(key.key_id, f"{key.created_at:%Y-%m-%d %H:%M}", status, held)
    console.print(table)
