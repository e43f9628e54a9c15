"""Alembic environment: runs on the connection handed over by `voucher_exchange.db.migrate`."""

from alembic import context

from voucher_exchange.db.migrate import render_item
from voucher_exchange.db.schema import metadata

# The revisions themselves import no application code; this runner compares and renders with it.
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
