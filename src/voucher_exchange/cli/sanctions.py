"""`sanctions load` and `sanctions check`: the OFAC legacy CSV list used to screen names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from voucher_exchange.cli.common import DatabaseUrl, console, err, settings
from voucher_exchange.clock import SystemClock
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import DomainError
from voucher_exchange.risk import admin as risk_admin
from voucher_exchange.risk import sanctions_customers
from voucher_exchange.risk.sanctions import SanctionsScreen, Strength
from voucher_exchange.trades import service as trade_service

sanctions_app = typer.Typer(
    help="The sanctions list (OFAC SDN legacy CSV) that legal and account-holder names are screened against.",
    no_args_is_help=True,
)

CsvFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]
STYLES = {Strength.NONE: "green", Strength.WEAK: "yellow", Strength.STRONG: "red"}
# Changed customers listed one per line after a re-screen; the rest are counted.
SHOWN_CHANGES = 20


def _read(path: Path) -> str:
    # OFAC has published these files in both encodings; latin-1 decodes any byte, so it is the fallback.
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@contextmanager
def _engine(database_url: str | None) -> Iterator[Engine]:
    engine = make_engine(settings(database_url).database_url)
    try:
        yield engine
    except DomainError as exc:
        err.print(f"[red]{exc.code}:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()


@sanctions_app.command("load")
def load_list(
    sdn_csv: CsvFile,
    alt_csv: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, readable=True, help="Aliases (ALT.CSV).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Replace the sanctions list with SDN_CSV (and aliases in ALT_CSV); re-screen verified customers."""
    with _engine(database_url) as engine:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as bar:
            bar.add_task(f"loading {sdn_csv.name}", total=None)
            sdn_text = _read(sdn_csv)
            alt_text = _read(alt_csv) if alt_csv is not None else None
            summary = risk_admin.load_sanctions_list(
                engine, sdn_text, alt_text, sdn_csv.name, SystemClock().now(), "cli"
            )
        skipped = f" (skipped {summary.skipped} vessels/aircraft)" if summary.skipped else ""
        loaded = f"loaded {summary.entries} entries, {summary.names} names from {escape(str(sdn_csv))}"
        console.print(f"[green]{loaded}[/green]{skipped}", soft_wrap=True)
        _rescreen(engine)


def _rescreen(engine: Engine) -> None:
    """Every verified customer screened against the list just loaded, with a progress bar."""
    with Progress(*Progress.get_default_columns(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("re-screening customers", total=None)
        result = risk_admin.rescreen_customers(
            engine,
            SystemClock().now(),
            lambda total: bar.update(task, total=total),
            lambda n: bar.advance(task, n),
        )
    console.print(
        f"re-screened {result.customers} customers: {len(result.changes)} changed "
        f"({result.count('strong')} strong, {result.count('weak')} weak, {result.count('none')} cleared), "
        f"{result.frozen} payouts frozen",
        soft_wrap=True,
    )
    for change in result.changes[:SHOWN_CHANGES]:
        listed = f" ({escape(change.listed_name)}, entry {change.ent_num})" if change.listed_name else ""
        after = f"[{STYLES[Strength(change.after)]}]{change.after}[/]"
        console.print(f"  {escape(change.email)}: {change.before} → {after}{listed}", soft_wrap=True)
    if len(result.changes) > SHOWN_CHANGES:
        console.print(f"  … and {len(result.changes) - SHOWN_CHANGES} more", soft_wrap=True)


@sanctions_app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="A person's or company's name, in any script.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Screen NAME against the current list and show the best match."""
    with _engine(database_url) as engine, UnitOfWork(engine, readonly=True) as uow:
        screen = SanctionsScreen.from_db(uow.conn)
    if screen.list_id is None:
        err.print("[yellow]no sanctions list loaded[/yellow]: run `voucher-exchange sanctions load SDN.CSV`")
    match = screen.screen(name)
    listed = (
        f"{escape(match.listed_name)} (entry {match.ent_num}, {escape(match.program or 'no program')})"
        if match.listed_name is not None
        else "(no listed name above the weak threshold)"
    )
    console.print(
        f"[{STYLES[match.strength]}]{match.strength.value}[/] score {match.score:.2f} {listed}",
        soft_wrap=True,
    )


@sanctions_app.command("freezes")
def freezes(database_url: DatabaseUrl = None) -> None:
    """Customers whose payouts a re-screen froze (strong new matches), for a reviewer to look at."""
    with _engine(database_url) as engine, UnitOfWork(engine, readonly=True) as uow:
        found = sanctions_customers.open_freezes(uow.conn)
    if not found:
        console.print("no payouts are frozen")
    for freeze in found:
        listed = escape(freeze.listed_name or "?")
        console.print(
            f"{escape(freeze.email)} · {escape(freeze.legal_name or '—')} · {listed} (entry {freeze.ent_num})"
            f" · since {freeze.created_at:%Y-%m-%d %H:%M} UTC",
            soft_wrap=True,
        )


@sanctions_app.command("release")
def release(
    email: Annotated[str, typer.Argument(help="The customer whose payouts to release.")],
    reviewer: Annotated[str, typer.Option(help="Who decided (recorded in the audit log).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Release a customer's frozen payouts after review; their credited trades resume paying out."""
    with _engine(database_url) as engine:
        waiting = trade_service.release_sanctions_freeze(engine, email, reviewer, SystemClock().now())
    if waiting is trade_service.Released.NO_SUCH_CUSTOMER:
        err.print(f"[red]no such customer:[/red] {escape(email)}")
        raise typer.Exit(1)
    if waiting is trade_service.Released.NOT_FROZEN:
        err.print(f"[yellow]{escape(email)} has no frozen payouts[/yellow]")
        raise typer.Exit(1)
    console.print(f"released {escape(email)}: {waiting} held trades resume paying out")
