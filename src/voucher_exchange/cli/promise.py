"""`promise show|set`: the payout-time promise the operator makes, and its compensation."""

from __future__ import annotations

from typing import Annotated

import typer

from voucher_exchange.cli.common import DatabaseUrl, console, err, settings
from voucher_exchange.clock import SystemClock
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import DomainError
from voucher_exchange.promises import service as promise_service
from voucher_exchange.promises.models import percent_text

promise_app = typer.Typer(help="The payout-time promise: paid within minutes of securing, or the fee back.")


def _print(terms: dict[str, object]) -> None:
    window = terms["bank_window"]
    assert isinstance(window, dict)
    bps = terms["compensation_bps"]
    assert isinstance(bps, int)
    console.print(f"paid within: {terms['minutes']} minutes of the voucher being secured")
    console.print(f"compensation: {percent_text(bps)} of the fee, added to a late payout")
    console.print(
        f"bank window: {window['from']}–{window['to']} ({window['timezone']}): payouts queue, not covered"
    )


@promise_app.command("show")
def show(database_url: DatabaseUrl = None) -> None:
    """The promise in force (the default until set: 10 minutes, the fee in full, 23:30–00:30)."""
    cfg = settings(database_url)
    engine = make_engine(cfg.database_url)
    try:
        with UnitOfWork(engine, readonly=True) as uow:
            terms = promise_service.terms(uow.conn, cfg)
    finally:
        engine.dispose()
    _print(promise_service.terms_json(terms))


@promise_app.command("set")
def set_terms(
    minutes: Annotated[int | None, typer.Option(help="Paid within this many minutes of securing.")] = None,
    compensation_percent: Annotated[
        int | None,
        typer.Option(help="Whole percent of the fee added to a late payout (100 = the fee in full)."),
    ] = None,
    bank_window: Annotated[
        str | None,
        typer.Option(help="The banks' nightly window, local time, HH:MM-HH:MM (payouts queue in it)."),
    ] = None,
    actor: Annotated[str, typer.Option(help="Who sets it (the audit log's actor).")] = "cli",
    database_url: DatabaseUrl = None,
) -> None:
    """Set the promise for trades secured from now on (audited; trades secured before keep theirs).

    What is not given stays as it is.
    """
    window = None
    if bank_window is not None:
        start, _, end = bank_window.partition("-")
        window = (start, end)
    bps = None if compensation_percent is None else compensation_percent * 100
    cfg = settings(database_url)
    engine = make_engine(cfg.database_url)
    try:
        terms = promise_service.set_terms(engine, cfg, minutes, bps, window, actor, SystemClock().now())
    except DomainError as exc:
        err.print(f"[red]{exc.code}:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    _print(promise_service.terms_json(terms))
