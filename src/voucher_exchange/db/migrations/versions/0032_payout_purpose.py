"""Payouts say what they pay: the trade, or the promise's compensation sent after it

A payout the bank executed later than the trade's promise cannot carry the compensation (its
amount was fixed when it was handed over): the compensation then goes as a second transfer to
the same account. At most one live payout per trade and purpose.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_REFUSED = sa.text("status <> 'rejected'")


def upgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.add_column(sa.Column("purpose", sa.String(20), nullable=False, server_default="trade"))
    op.drop_index("uq_payouts_one_live_per_trade", table_name="payouts")
    op.create_index(
        "uq_payouts_one_live_per_trade",
        "payouts",
        ["trade_id", "purpose"],
        unique=True,
        sqlite_where=NOT_REFUSED,
        postgresql_where=NOT_REFUSED,
    )


def downgrade() -> None:
    op.execute("DELETE FROM payouts WHERE purpose <> 'trade'")
    op.drop_index("uq_payouts_one_live_per_trade", table_name="payouts")
    op.create_index(
        "uq_payouts_one_live_per_trade",
        "payouts",
        ["trade_id"],
        unique=True,
        sqlite_where=NOT_REFUSED,
        postgresql_where=NOT_REFUSED,
    )
    with op.batch_alter_table("payouts") as batch:
        batch.drop_column("purpose")
