"""`audit verify | anchor | anchors | heads`: the tamper-evident audit log and its signed anchors."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table

from voucher_exchange.audit import anchoring
from voucher_exchange.audit.anchor_files import load_signing_key
from voucher_exchange.audit.anchors import b64url, key_id_for, when
from voucher_exchange.cli.common import DatabaseUrl, console, context, err
from voucher_exchange.security.files import KeyFileExposed
from voucher_exchange.trades import service as trade_service

audit_app = typer.Typer(help="The tamper-evident audit log and its signed anchors.", no_args_is_help=True)


def _span(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first} to {last}"


@audit_app.command("verify")
def audit_verify(database_url: DatabaseUrl = None) -> None:
    """Check the hash chain against the signed anchors; name every break and the first broken anchor."""
    with context(database_url) as ctx:
        with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("audit", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            try:
                report = anchoring.verify(ctx, progress)
            except (ValueError, KeyFileExposed) as exc:
                err.print(f"[red]audit verify: {escape(str(exc))}[/red]")
                raise typer.Exit(2) from exc
            bar.update(task, completed=report.verdict.checked, total=report.verdict.checked)
        with ctx.uow(readonly=True) as uow:
            histories = trade_service.verify_histories(uow.conn)
        where = ctx.anchors.where
    verdict = report.verdict
    for finding in verdict.findings:
        console.print(f"[red]{finding.kind.value}:[/red] {escape(finding.detail)}", soft_wrap=True)
    for problem in report.problems:
        console.print(f"[red]{problem.kind}:[/red] {escape(problem.detail)}", soft_wrap=True)
    for line in histories.findings:
        console.print(f"[red]{escape(line)}[/red]", soft_wrap=True)
    breaks = len(verdict.findings) + len(report.problems) + len(histories.findings)
    if breaks:
        console.print(f"[red bold]audit verify: {breaks} break(s) in the chains[/red bold]")
        raise typer.Exit(1)
    console.print(f"[green bold]audit verify: {verdict.checked} entries intact[/green bold]")
    console.print(f"head {verdict.head} (entry {verdict.last_id})")
    newest = report.newest
    if newest is None:
        console.print(f"anchors: none yet in {escape(where)}", soft_wrap=True)
    else:
        console.print(f"anchors: intact up to {newest.label}, entry {newest.last_id}")
    unanchored = report.unanchored
    console.print(f"not yet anchored: {'nothing' if unanchored is None else _span(*unanchored)}")
    console.print(f"trade histories: {histories.events} events of {histories.trades} trades intact")


@audit_app.command("anchor")
def audit_anchor(database_url: DatabaseUrl = None) -> None:
    """Sign the chain's head into the anchor store now (the worker does it on its own); exit 1 if refused."""
    with context(database_url) as ctx:
        try:
            taken = anchoring.take(ctx)
        except anchoring.AnchorRefused as exc:
            for problem in exc.problems:
                err.print(f"[red]{escape(problem)}[/red]", soft_wrap=True)
            err.print("[red bold]audit anchor: refused: the log or its anchors are broken[/red bold]")
            raise typer.Exit(1) from exc
        except (ValueError, KeyFileExposed) as exc:
            err.print(f"[red]audit anchor: {escape(str(exc))}[/red]")
            raise typer.Exit(2) from exc
    anchor = taken.anchor
    if anchor is None:
        console.print("audit anchor: the log is empty; nothing to anchor")
    elif not taken.new:
        console.print(f"audit anchor: nothing new since {anchor.label}, entry {anchor.last_id}")
    else:
        counted = f"{anchor.count} {'entry' if anchor.count == 1 else 'entries'}"
        console.print(
            f"[green bold]audit anchor: {anchor.label} signed entry {anchor.last_id} "
            f"({counted}), head {anchor.head}[/green bold]",
            soft_wrap=True,
        )
        console.print(f"wrote {escape(taken.where)}", soft_wrap=True)


@audit_app.command("anchors")
def audit_anchors(database_url: DatabaseUrl = None) -> None:
    """List the signed anchors, each checked against its signature; exit 1 if any fails."""
    with context(database_url) as ctx:
        try:
            trusted = anchoring.trusted_keys(ctx.settings)
            local = load_signing_key(ctx.settings.audit_anchor_key_path, create=False)
        except (ValueError, KeyFileExposed) as exc:
            err.print(f"[red]audit anchors: {escape(str(exc))}[/red]")
            raise typer.Exit(2) from exc
        listed = anchoring.list_anchors(ctx.anchors, trusted)
        where = ctx.anchors.where
    console.print(f"anchor store: {escape(where)}", soft_wrap=True)
    if local is not None:
        public = local.public_key()
        console.print(
            f"signing key: {key_id_for(public)} (public key {b64url(public.public_bytes_raw())})",
            soft_wrap=True,
        )
    console.print(f"trusted keys: {', '.join(sorted(trusted)) or 'none'}")
    # Hashes fold rather than being cut short: they are there to be copied.
    table = Table(
        "anchor",
        Column("time (UTC)", overflow="fold"),
        "entry",
        "entries",
        Column("head", overflow="fold"),
        Column("key", overflow="fold"),
        "check",
    )
    for item in listed:
        a = item.anchor
        if a is None:
            problem = f"[red]{escape(item.problem or '')}[/red]"
            table.add_row(str(item.stored.seq), "—", "—", "—", "—", "—", problem)
        else:
            table.add_row(str(a.seq), when(a.at), str(a.last_id), str(a.count), a.head, a.key_id, "ok")
    console.print(table)
    bad = [item for item in listed if item.anchor is None]
    if bad:
        console.print(f"[red bold]audit anchors: {len(bad)} of {len(listed)} fail their check[/red bold]")
        raise typer.Exit(1)
    console.print(f"audit anchors: {len(listed)} anchor(s), all signed by a trusted key")


@audit_app.command("heads")
def audit_heads(
    days: Annotated[int, typer.Option(help="How many days back, newest first.", min=1, max=366)] = 7,
    database_url: DatabaseUrl = None,
) -> None:
    """The signed anchor backing each past UTC day's end (what the dashboard publishes), to copy elsewhere."""
    with context(database_url) as ctx:
        heads = anchoring.published_heads(ctx, ctx.clock.now().date(), days)
    table = Table("end of day (UTC)", "anchor", "entry", Column("hash", overflow="fold"))
    last_id, head = heads.now
    newest = heads.newest
    if last_id is None:
        now_anchor = "—"
    elif newest is not None and newest.last_id == last_id:
        # The head no longer being the one the anchor signed is for `audit verify` to explain.
        now_anchor = str(newest.seq) if newest.head == head else f"≠ {newest.seq}"
    else:
        now_anchor = "not yet"
    table.add_row(
        "now",
        now_anchor,
        "—" if last_id is None else str(last_id),
        head,
    )
    for day, anchor in heads.days:
        if anchor is None:
            table.add_row(day.isoformat(), "—", "—", "—")
        else:
            table.add_row(day.isoformat(), str(anchor.seq), str(anchor.last_id), anchor.head)
    console.print(table)
