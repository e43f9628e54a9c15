"""`risk rules …`, `risk compare`, `risk backtest`, `simulate`: the rule engine's tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from voucher_exchange.bootstrap import build_context, build_sandbox
from voucher_exchange.cli.common import DatabaseUrl, console, context, settings, write_json
from voucher_exchange.clock import FrozenClock
from voucher_exchange.db import migrate
from voucher_exchange.demo import seed
from voucher_exchange.risk import admin as risk_admin
from voucher_exchange.risk import backtest as replay
from voucher_exchange.risk import repository, rules
from voucher_exchange.simulation import INTENDED, Simulator, sim_start
from voucher_exchange.threaded_server import live_server

risk_app = typer.Typer(
    help="The risk engine: rule sets, shadow comparisons, backtests.", no_args_is_help=True
)
rules_app = typer.Typer(help="Versioned rule sets.", no_args_is_help=True)
risk_app.add_typer(rules_app, name="rules")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@rules_app.command("list")
def rules_list(database_url: DatabaseUrl = None) -> None:
    """Every rule-set version and its status (one live; shadows run beside it)."""
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        rows = repository.listing(uow.conn)
        live = repository.live(uow.conn)
    table = Table("version", "status", "rules", "published")
    for r in rows:
        table.add_row(
            r.version, r.status, str(len(r.rules["rules"])), r.created_at.strftime("%Y-%m-%d %H:%M")
        )
    if not any(r.status == "live" for r in rows):
        table.add_row(live.version, "live (shipped default)", str(len(live.rules)), "—")
    console.print(table)


@rules_app.command("publish")
def rules_publish(
    file: Annotated[Path, typer.Argument(help="A rule-set JSON file (see `risk rules export`).")],
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Run beside the live set, recorded but not enforced.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Publish a new immutable version, live (default) or in shadow mode."""
    ruleset = rules.load_file(file)
    with context(database_url) as ctx:
        risk_admin.publish_ruleset(ctx, ruleset, shadow, "cli")
    mode = "shadow" if shadow else "live"
    console.print(f"[green]published[/green] {ruleset.version} ({len(ruleset.rules)} rules) as {mode}")


def _set_status(version: str, status: str, database_url: str | None) -> None:
    with context(database_url) as ctx:
        risk_admin.set_ruleset_status(ctx, version, status, "cli")


@rules_app.command("promote")
def rules_promote(version: str, database_url: DatabaseUrl = None) -> None:
    """Make a published version live (the previous live one is retired)."""
    _set_status(version, "live", database_url)
    console.print(f"[green]{version} is live[/green]")


@rules_app.command("retire")
def rules_retire(version: str, database_url: DatabaseUrl = None) -> None:
    """Stop running a version (live or shadow)."""
    _set_status(version, "retired", database_url)
    console.print(f"{version} retired")


@rules_app.command("export")
def rules_export(
    file: Annotated[Path | None, typer.Argument(help="Write here instead of standard output.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The live rule set as a file to edit and publish as a new version."""
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        write_json(repository.live(uow.conn).as_json(), file)


@risk_app.command("compare")
def risk_compare(
    version: Annotated[str | None, typer.Option(help="One shadow version (default: all).")] = None,
    show: Annotated[int, typer.Option(help="How many differing trades to list.")] = 10,
    database_url: DatabaseUrl = None,
) -> None:
    """Where shadow rule sets decided differently from the live one."""
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        comparisons = replay.compare(uow.conn, version)
    if not comparisons:
        console.print("No shadow decisions yet. Publish one with `risk rules publish FILE --shadow`.")
        return
    for comparison in comparisons:
        table = Table("live outcome", "shadow outcome", "trades", title=f"live vs {comparison.version}")
        for (live, shadow), count in sorted(comparison.pairs.items()):
            style = "" if live == shadow else "bold yellow"
            table.add_row(live, shadow, str(count), style=style)
        console.print(table)
        for trade_id, live, shadow, hits in comparison.differing[:show]:
            console.print(f"  {trade_id}: {live} → {shadow}  ({', '.join(hits) or 'no rule hit'})")


@risk_app.command("backtest")
def risk_backtest(
    rules_file: Annotated[Path, typer.Option("--rules", help="The rule set to replay.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Replay stored trades (with the features they had) through a rule set; score it on the labels."""
    ruleset = rules.load_file(rules_file)
    with context(database_url) as ctx, ctx.uow(readonly=True) as uow:
        report = replay.backtest(uow.conn, ruleset)
    table = Table(
        "rule", "hits", "share of volume", "precision", "recall", title=f"backtest of {report.version}"
    )
    for tally in [*report.per_rule.values(), report.overall]:
        table.add_row(
            tally.name,
            str(tally.hits),
            _pct(report.share(tally)),
            _pct(tally.precision()),
            _pct(report.recall(tally)),
        )
    console.print(table)
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
    console.print(
        f"replayed {report.replayed} trades ({outcomes}); labelled {report.labelled}, bad {report.bad}. "
        "Trades refused before the rules (duplicates, declared carrier billing) are not replayed."
    )


def simulate(
    seed_value: Annotated[int, typer.Option("--seed", help="Same seed, same traffic.")] = 7,
    trades: Annotated[int, typer.Option(help="About how many trades to submit.")] = 500,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Default: var/simulation.db, a database of its own.")
    ] = None,
) -> None:
    """Labelled synthetic traffic through the real pipeline; prints how each typology fared."""
    cfg = settings(None)
    cfg = cfg.with_overrides(database_url=database_url or f"sqlite:///{cfg.var_dir}/simulation.db", demo=True)
    with live_server(build_sandbox(cfg.var_dir / "simulation")) as sandbox_url:
        ctx = build_context(cfg, sandbox_url, FrozenClock(sim_start()))
        migrate.upgrade(ctx.engine)
        seed(ctx)
        simulator = Simulator(ctx, sandbox_url, seed_value)
        columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("sim", total=trades)
            result = simulator.run(trades, lambda n: bar.update(task, completed=min(n, trades)))
        ctx.close()
    headers = (
        "typology",
        "trades",
        "flagged",
        "caught by the rule meant for it",
        "approve / review / reject",
    )
    table = Table(*headers, title=f"simulation, seed {seed_value}")
    for name, tally in result.typologies.items():
        meant = "—" if INTENDED[name] is None else f"{tally.caught_by_intended} ({INTENDED[name]})"
        split = " / ".join(str(tally.outcomes[o]) for o in ("approve", "review", "reject"))
        table.add_row(name, str(tally.trades), str(tally.flagged), meant, split)
    console.print(table)
    bad, bad_flagged, good, good_flagged = result.totals()
    console.print(
        f"precision {_pct(result.precision())}, recall {_pct(result.recall())} "
        f"({bad_flagged}/{bad} bad trades flagged; {good_flagged}/{good} honest trades flagged). "
        f"Database: {cfg.database_url}"
    )
