"""The `voucher-exchange` command: every subcommand in one place."""

from __future__ import annotations

import typer

from voucher_exchange.cli import (
    admin,
    audit,
    database,
    issuers,
    keys,
    mail,
    promise,
    receipts,
    reconcile,
    reversals,
    risk,
    sanctions,
    sandbox,
    serve,
)

app = typer.Typer(
    help="voucher-exchange: turn unused vouchers into money, safely.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command()(serve.serve)
app.command()(serve.worker)
app.command()(serve.migrate)
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.catalog_app, name="catalog")
app.add_typer(admin.ledger_app, name="ledger")
app.add_typer(sandbox.sandbox_app, name="sandbox")
app.add_typer(database.db_app, name="db")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(sanctions.sanctions_app, name="sanctions")
app.add_typer(risk.risk_app, name="risk")
app.add_typer(reversals.reversals_app, name="reversals")
app.add_typer(issuers.issuers_app, name="issuers")
app.add_typer(receipts.receipt_app, name="receipt")
app.add_typer(promise.promise_app, name="promise")
app.command()(risk.simulate)
app.command()(reconcile.reconcile)
app.command()(mail.mail)
app.add_typer(audit.audit_app, name="audit")

if __name__ == "__main__":
    app()
