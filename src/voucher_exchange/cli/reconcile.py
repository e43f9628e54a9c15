"""`reconcile issuer|rail FILE --date D`: checking our books against the world."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from voucher_exchange.cli.common import DatabaseUrl, console, context, err
from voucher_exchange.reconcile import daily
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.reconcile.matching import Bucket, Movement, Result
from voucher_exchange.reconcile.statements import LIMITS, Source
from voucher_exchange.security.input_policy import shown

BUCKET_NAMES = {
    Bucket.MATCHED: "matched",
    Bucket.MISSING_OURS: "missing on our side",
    Bucket.MISSING_THEIRS: "missing on theirs",
    Bucket.MISMATCHED: "mismatched",
}
_STYLE = {Bucket.MATCHED: "green", Bucket.MISMATCHED: "yellow"}


def _side(movement: Movement | None) -> tuple[str | Text, str, str]:
    if movement is None:
        return "—", "—", "—"
    at = movement.at.strftime("%H:%M:%S")
    return Text(shown(movement.where)), movement.amount.format(), at


def _table(results: list[Result], show_matched: bool) -> Table:
    table = Table("result", "reference", "problems", "theirs", "amount", "time", "ours", "amount", "time")
    for r in results:
        if r.bucket is Bucket.MATCHED and not show_matched:
            continue
        style = _STYLE.get(r.bucket, "red")
        table.add_row(
            f"[{style}]{BUCKET_NAMES[r.bucket]}[/{style}]",
            # From the file: a Text is never read as markup, and its control characters show escaped.
            Text(shown(r.reference)),
            ", ".join(p.value for p in r.problems),
            *_side(r.theirs),
            *_side(r.ours),
        )
    return table


def reconcile(
    source: Annotated[Source, typer.Argument(help="issuer (settlement file) or rail (bank statement).")],
    file: Annotated[Path, typer.Argument(help="The statement CSV.", exists=True, dir_okay=False)],
    day: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="The statement's UTC day.")],
    tolerance_minutes: Annotated[
        float | None, typer.Option(help="Times may differ this much (default: the setting, 15).", min=0)
    ] = None,
    show_matched: Annotated[bool, typer.Option(help="List matched lines too.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Match a day's statement one-to-one to our books; exit 1 when anything is unmatched or it is refused.

    The file is read line by line and refused, with nothing stored, past 20 MB, 100,000 lines
    or 200 characters in a field.
    """
    statement_day: date = day.date()
    size = file.stat().st_size
    if size > LIMITS.bytes:  # refused before the database is opened; the reader checks again
        err.print(
            f"[red]statement_too_large:[/red] {escape(shown(str(file)))} is {size:,} bytes; a statement "
            f"may be at most {LIMITS.bytes:,} bytes (20 MB). Nothing was stored. Ask the counterparty "
            "for one day's statement as plain CSV and run again."
        )
        raise typer.Exit(1)
    with context(database_url) as ctx, file.open("rb") as stream:
        seconds = ctx.settings.reconcile_tolerance_seconds
        tolerance = (
            timedelta(minutes=tolerance_minutes)
            if tolerance_minutes is not None
            else timedelta(seconds=seconds)
        )
        statement = daily.Statement(source, statement_day, file.name, stream)
        run, results = reconcile_service.reconcile_statement(ctx, statement, tolerance, "cli")
    console.print(_table(results, show_matched))
    summary = Table("", "count", title=f"{source.value} statement {statement_day.isoformat()} (run {run.id})")
    for bucket, count in (
        (Bucket.MATCHED, run.matched),
        (Bucket.MISSING_OURS, run.missing_ours),
        (Bucket.MISSING_THEIRS, run.missing_theirs),
        (Bucket.MISMATCHED, run.mismatched),
    ):
        summary.add_row(BUCKET_NAMES[bucket], str(count))
    console.print(summary)
    if not run.ok:
        unmatched = run.missing_ours + run.missing_theirs + run.mismatched
        console.print(f"[red bold]reconcile {source.value}: {unmatched} line(s) unmatched[/red bold]")
        raise typer.Exit(1)
    console.print(f"[green bold]reconcile {source.value}: all {run.matched} line(s) matched[/green bold]")
