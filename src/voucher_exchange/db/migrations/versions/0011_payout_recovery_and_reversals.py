"""Payout recovery and reversals: payouts numbered per trade (one live at a time), issuer chargebacks

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Instants are sa.DateTime(): the DDL voucher_exchange.db.types.UTCDateTime rendered when this
# revision was written. A migration imports no application code: replaying history must not
# change when the application does (docs/architecture.md, "One schema").

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_REFUSED = sa.text("status <> 'rejected'")


def upgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch.drop_constraint("uq_payouts_trade_id", type_="unique")
        batch.create_unique_constraint("uq_payouts_trade_attempt", ["trade_id", "attempt"])
        batch.create_index("ix_payouts_trade_id", ["trade_id"], unique=False)
    op.create_index(
        "uq_payouts_one_live_per_trade",
        "payouts",
        ["trade_id"],
        unique=True,
        sqlite_where=NOT_REFUSED,
        postgresql_where=NOT_REFUSED,
    )
    op.create_table(
        "voucher_chargebacks",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("issuer_seq", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("receivable", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.Column("appeal_note", sa.Text(), nullable=True),
        sa.Column("appealed_at", sa.DateTime(), nullable=True),
        sa.Column("appeal_outcome", sa.String(length=20), nullable=True),
        sa.Column("appeal_decided_by", sa.String(length=254), nullable=True),
        sa.Column("appeal_decided_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_chargebacks")),
        sa.UniqueConstraint("issuer_seq", name=op.f("uq_voucher_chargebacks_issuer_seq")),
    )
    op.create_index("ix_voucher_chargebacks_reference", "voucher_chargebacks", ["reference"], unique=False)
    # Decisions now also record what became of a payout or a reversal ("refused", "written_off").
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("outcome", existing_type=sa.String(length=10), type_=sa.String(length=20))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("outcome", existing_type=sa.String(length=20), type_=sa.String(length=10))
    op.drop_index("ix_voucher_chargebacks_reference", table_name="voucher_chargebacks")
    op.drop_table("voucher_chargebacks")
    op.drop_index("uq_payouts_one_live_per_trade", table_name="payouts")
    with op.batch_alter_table("payouts") as batch:
        batch.drop_index("ix_payouts_trade_id")
        batch.drop_constraint("uq_payouts_trade_attempt", type_="unique")
        batch.create_unique_constraint("uq_payouts_trade_id", ["trade_id"])
        batch.drop_column("attempt")
