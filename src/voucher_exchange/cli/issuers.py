"""`voucher-exchange issuers`: the issuer guard from the command line (what /staff/issuers does)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from voucher_exchange.cli.common import DatabaseUrl, console, context
from voucher_exchange.issuers import guard
from voucher_exchange.issuers import views as issuer_views

issuers_app = typer.Typer(help="The issuer guard: exposure, facts, rules and actions.", no_args_is_help=True)


@issuers_app.command("list")
def issuers_list(database_url: DatabaseUrl = None) -> None:
    """Each issuer's exposure, limit, signals and the actions in force."""
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        board = issuer_views.dashboard(uow.conn, ctx.settings.currency, ctx.clock.now())
    table = Table("issuer", "name", "exposure", "limit", "signals", "in force")
    for p in board.panels:
        signals = ", ".join(f"{s.value}={v}" for s, v in p.measured.signals.items() if v is not None)
        standing = ", ".join(f"#{a.id} {a.action.value}" for a in p.actions if a.in_force)
        limit = "—" if p.facts.exposure_limit is None else str(p.facts.exposure_limit)
        table.add_row(p.facts.code, p.facts.name, str(p.measured.exposure), limit, signals, standing or "—")
    console.print(table)
    rules = Table("rule", "issuer", "when", "then", "on", title="rules")
    for r in board.rules:
        then = r.action.value + (f" {r.amount}" if r.amount is not None else "")
        rules.add_row(
            str(r.id),
            r.issuer or "*",
            f"{r.signal.value} >= {r.threshold}",
            then,
            "yes" if r.enabled else "no",
        )
    console.print(rules)


@issuers_app.command("set")
def issuers_set(
    code: Annotated[str, typer.Argument(help="The issuer's code, as the catalog names it.")],
    name: Annotated[str, typer.Option(help="The issuer's name, as sellers see it.")],
    registration: Annotated[str, typer.Option(help="registered, unregistered or unknown.")] = "unknown",
    registration_number: Annotated[str | None, typer.Option(help="The 선불업 registration number.")] = None,
    insurance_expires: Annotated[
        str | None, typer.Option(help="Guarantee insurance expiry, YYYY-MM-DD.")
    ] = None,
    exposure_limit: Annotated[
        int | None, typer.Option(help="Minor units of the deployment's currency.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write the facts of an issuer (replaces all of them; audited)."""
    expires = date.fromisoformat(insurance_expires) if insurance_expires else None
    with context(database_url) as ctx:
        guard.save_facts(
            ctx,
            code,
            name=name,
            registration_status=registration,
            registration_number=registration_number,
            insurance_expires_on=expires,
            exposure_limit=exposure_limit,
            actor="cli",
        )
    console.print(f"[green]saved[/green] {code}")


@issuers_app.command("rule")
def issuers_rule(
    signal: Annotated[str, typer.Option(help="failure_surge, timeout_surge, settlement_shortfall_bps, …")],
    threshold: Annotated[int, typer.Option(help="Act when the signal is at or above this.")],
    action: Annotated[str, typer.Option(help="lower_rate, cap_daily_volume, pause_quotes or suspend.")],
    amount: Annotated[
        int | None, typer.Option(help="bps for lower_rate; minor units for cap_daily_volume.")
    ] = None,
    issuer: Annotated[str | None, typer.Option(help="One issuer; every issuer when left out.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a rule (audited); it acts from the next evaluation."""
    with context(database_url) as ctx:
        rule_id = guard.add_rule(ctx, issuer, signal, threshold, action, amount, "cli")
    console.print(f"[green]rule {rule_id}[/green] added")


@issuers_app.command("evaluate")
def issuers_evaluate(database_url: DatabaseUrl = None) -> None:
    """Evaluate the rules now (the worker does this every few minutes and after each issuer statement)."""
    with context(database_url) as ctx:
        done = guard.evaluate(ctx)
    console.print(f"{len(done.taken)} action(s) taken: {', '.join(f'#{i}' for i in done.taken) or '—'}")


@issuers_app.command("lift")
def issuers_lift(
    action_id: Annotated[int, typer.Argument(help="The action's number (see `issuers list`).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Lift an action (audited); its brands go back where nothing else holds them."""
    with context(database_url) as ctx:
        lifted = guard.lift_action(ctx, action_id, "cli")
    console.print(f"[green]lifted[/green] #{lifted.id} {lifted.action.value} on {lifted.issuer}")
