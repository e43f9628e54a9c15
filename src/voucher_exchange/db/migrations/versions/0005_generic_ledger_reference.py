"""The ledger knows no trades: transfers carry a generic `reference` instead of trade and payout ids

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_transfers") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=120), nullable=True))
    # A payout's transfers (pending, post, void) were written with both ids: the payout is what they are for.
    op.execute(
        "UPDATE ledger_transfers SET reference = CASE"
        " WHEN payout_id IS NOT NULL THEN 'payout:' || payout_id"
        " WHEN trade_id IS NOT NULL THEN 'trade:' || trade_id"
        " ELSE key END"
    )
    with op.batch_alter_table("ledger_transfers") as batch:
        batch.alter_column("reference", existing_type=sa.String(length=120), nullable=False)
        batch.drop_index("ix_ledger_transfers_trade_id")
        batch.drop_constraint("fk_ledger_transfers_trade_id_trades", type_="foreignkey")
        batch.drop_column("trade_id")
        batch.drop_column("payout_id")
        batch.create_index("ix_ledger_transfers_reference", ["reference"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger_transfers") as batch:
        batch.add_column(sa.Column("trade_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("payout_id", sa.String(length=36), nullable=True))
    op.execute("UPDATE ledger_transfers SET trade_id = substr(reference, 7) WHERE reference LIKE 'trade:%'")
    op.execute(
        "UPDATE ledger_transfers SET payout_id = substr(reference, 8),"
        " trade_id = (SELECT payouts.trade_id FROM payouts WHERE payouts.id = substr(reference, 8))"
        " WHERE reference LIKE 'payout:%'"
    )
    with op.batch_alter_table("ledger_transfers") as batch:
        batch.drop_index("ix_ledger_transfers_reference")
        batch.drop_column("reference")
        batch.create_foreign_key("fk_ledger_transfers_trade_id_trades", "trades", ["trade_id"], ["id"])
        batch.create_index("ix_ledger_transfers_trade_id", ["trade_id"], unique=False)
