"""`sandbox serve` and `sandbox mint`: the simulated outside world."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from fastapi import FastAPI

from voucher_exchange.bootstrap import build_sandbox
from voucher_exchange.cli.common import SandboxUrl, console, err, running_sandbox
from voucher_exchange.config import load_settings
from voucher_exchange.malloc import cap_arenas

sandbox_app = typer.Typer(help="The sandbox issuer, payout rail and identity vendor.", no_args_is_help=True)


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    var_dir: Annotated[
        Path, typer.Option(envvar="VX_VAR_DIR", help="State lives in VAR_DIR/sandbox.")
    ] = Path("var"),
) -> None:
    """Run the sandboxes as their own process (API and workers use --sandbox-url)."""
    cap_arenas()
    console.print(f"sandboxes on http://{host}:{port}/sandbox (state in {var_dir / 'sandbox'})")
    root = FastAPI(title="voucher-exchange sandboxes")
    root.mount("/sandbox", build_sandbox(var_dir))
    uvicorn.run(root, host=host, port=port, log_level="warning")


@sandbox_app.command("mint")
def sandbox_mint(
    brand: Annotated[str, typer.Option(help="Brand slug, e.g. cultureland.")],
    face_value: Annotated[int, typer.Option(help="Minor units, e.g. 50000 (KRW) or 2500 (USD cents).")],
    balance: Annotated[int | None, typer.Option(help="Defaults to the face value.")] = None,
    state: Annotated[str, typer.Option(help="active, redeemed, expired or blocked.")] = "active",
    channel: Annotated[str, typer.Option(help="Purchase channel the issuer reports.")] = "card",
    sandbox_url: SandboxUrl = None,
) -> None:
    """Mint a test voucher at the sandbox issuer and print its code and PIN."""
    body: dict[str, object] = {
        "brand": brand,
        "face_value": face_value,
        "state": state,
        "purchase_channel": channel,
    }
    if balance is not None:
        body["balance"] = balance
    url = (sandbox_url or running_sandbox(load_settings().var_dir)).rstrip("/") + "/issuer/vouchers"
    try:
        response = httpx.post(url, json=body, timeout=10)
    except httpx.HTTPError as exc:
        err.print(f"[red]Cannot reach the sandbox at {url}.[/red] Is `make run` running? ({exc})")
        raise typer.Exit(2) from exc
    if response.status_code != 201:
        err.print(f"[red]The sandbox refused:[/red] {response.json().get('error', {}).get('message')}")
        raise typer.Exit(1)
    minted = response.json()
    console.print(f"code: [bold]{minted['code']}[/bold]   pin: {minted.get('pin') or '-'}")
