"""`voucher-exchange reversals`: read the issuers' chargeback feed now, list what it did."""

from __future__ import annotations

import typer
from rich.table import Table

from voucher_exchange.cli.common import DatabaseUrl, SandboxUrl, console, context
from voucher_exchange.identity import links
from voucher_exchange.reversals import service as reversal_service

reversals_app = typer.Typer(help="Chargebacks reported by issuers after payout.", no_args_is_help=True)


@reversals_app.command("poll")
def poll(database_url: DatabaseUrl = None, sandbox_url: SandboxUrl = None) -> None:
    """Read new chargebacks from the issuer and apply them (the worker does this on its own)."""
    with context(database_url, sandbox_url) as ctx:
        result = reversal_service.poll(ctx)
    table = Table("trade", "outcome", title=f"{result.received} new report(s)")
    for reference, outcome in result.applied:
        table.add_row(reference, outcome.value)
    console.print(table)


@reversals_app.command("link-identities")
def link_identities(database_url: DatabaseUrl = None, sandbox_url: SandboxUrl = None) -> None:
    """Tie accounts verified as the same person before migration 0025, so debts follow them (once)."""
    with context(database_url, sandbox_url) as ctx:
        done = links.link_past_identities(ctx)
    console.print(f"{done} verified identity check(s) linked")
