"""`users`, `catalog`, `ledger`: operator commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from voucher_exchange.accounts import role_requests
from voucher_exchange.accounts.models import Role
from voucher_exchange.catalog import service as catalog
from voucher_exchange.cli.common import DatabaseUrl, console, context, write_json
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.reconcile import service as reconcile_service

users_app = typer.Typer(help="Staff and seller accounts.", no_args_is_help=True)
catalog_app = typer.Typer(help="Brands and rates.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    password: Annotated[str, typer.Option(help="At least 10 characters.", prompt=True, hide_input=True)],
    role: Annotated[Role, typer.Option(help="reviewer, operator, reveal_codes or may_sell.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Bootstrap: create a staff account (or add a role) while fewer than two operators exist.

    Once two operators exist, roles change only by an operator's request on the team page
    (/staff/team) that a different operator approves; this command then refuses.
    """
    with context(database_url) as ctx:
        user = role_requests.bootstrap_staff(ctx, email, password, role)
    console.print(f"[green]{user.email}[/green] now has roles: {', '.join(sorted(user.roles))}")


@catalog_app.command("list")
def catalog_list(database_url: DatabaseUrl = None) -> None:
    """Show brands, status and current rates."""
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        brands = catalog.list_brands(uow.conn)
    table = Table("slug", "name", "currency", "status", "rate v", "rates (from face: %)")
    for b in brands:
        rates = ", ".join(f"{r.min_face}: {r.rate_bps / 100:.2f}%" for r in b.rates.bands)
        table.add_row(b.slug, b.name_ko, b.currency, b.status.value, str(b.rates.version), rates)
    console.print(table)


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="A catalog JSON file; see `catalog export`.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Add or update brands; changed rates become new versions."""
    with context(database_url) as ctx:
        summary = catalog.import_catalog_file(ctx, file, "cli")
    console.print(
        f"[green]imported[/green] {summary.added} new, {summary.updated} updated, "
        f"{summary.new_rate_versions} new rate versions"
    )


@catalog_app.command("export")
def catalog_export(
    file: Annotated[Path | None, typer.Argument(help="Write here instead of standard output.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write the catalog as importable JSON."""
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        write_json(catalog.export_catalog(uow.conn), file)


@ledger_app.command("verify")
def ledger_verify(database_url: DatabaseUrl = None) -> None:
    """Check invariants 1-4 (secure before pay, exactly once, balanced, nothing lost); exit 1 if broken."""
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        report = reconcile_service.verify(uow.conn)
    table = Table("checked", "count")
    for name, count in report.checked.items():
        table.add_row(name, str(count))
    console.print(table)
    for line in report.attention:
        console.print(f"[yellow]attention:[/yellow] {line}")
    for line in report.violations:
        console.print(f"[red]violation:[/red] {line}")
    if not report.ok:
        console.print(f"[red bold]ledger verify: {len(report.violations)} violation(s)[/red bold]")
        raise typer.Exit(1)
    console.print("[green bold]ledger verify: all invariants hold[/green bold]")


@ledger_app.command("balances")
def ledger_balances(database_url: DatabaseUrl = None) -> None:
    """Every account's balance (debits − credits)."""
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        rows = ledger_service.balances(uow.conn)
    table = Table("account", "kind", "balance", "pending")
    for r in rows:
        table.add_row(
            r["account"],
            r["kind"],
            Money(r["balance"], r["currency"]).format(),
            Money(r["pending"], r["currency"]).format(),
        )
    console.print(table)


@ledger_app.command("fund")
def ledger_fund(
    amount: Annotated[int, typer.Option(help="Minor units (KRW: won; USD: cents).", min=1)],
    reference: Annotated[
        str, typer.Option(help="Your bank's reference for the deposit (makes it idempotent).")
    ],
    currency: Annotated[str | None, typer.Option(help="Defaults to the deployment currency.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Record money put into the payout treasury."""
    with context(database_url) as ctx:
        cur = currency or ctx.settings.currency
        money = Money(amount, cur)
        recorded = payout_service.record_treasury_funding(ctx, reference, money)
    if recorded:
        console.print(f"[green]treasury funded[/green] {money.format()} (ref {reference})")
    else:
        console.print(f"[yellow]already recorded[/yellow]: a deposit with reference {reference} exists")
