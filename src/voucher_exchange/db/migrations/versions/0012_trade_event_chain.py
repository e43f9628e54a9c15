"""Trade histories are hash-chained, one chain per trade (existing events are chained in order)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from voucher_exchange.audit.chain import GENESIS, canonical, link
from voucher_exchange.db.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_events = sa.table(
    "trade_events",
    sa.column("id", sa.BigInteger()),
    sa.column("trade_id", sa.String()),
    sa.column("at", UTCDateTime()),
    sa.column("from_status", sa.String()),
    sa.column("to_status", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("note", sa.Text()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("trade_events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    heads: dict[str, str] = {}
    for r in conn.execute(sa.select(_events).order_by(_events.c.trade_id, _events.c.id)).all():
        prev = heads.get(r.trade_id, GENESIS)
        action = f"{r.from_status or ''}->{r.to_status}"
        entry = link(prev, canonical(r.actor, action, r.trade_id, {"note": r.note}, r.at))
        conn.execute(sa.update(_events).where(_events.c.id == r.id).values(prev_hash=prev, hash=entry))
        heads[r.trade_id] = entry


def downgrade() -> None:
    with op.batch_alter_table("trade_events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
