"""The payout-time promise: the operator's terms per rail, and the promise each trade was made

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payout_promise_terms",
        sa.Column("rail", sa.String(30), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("compensation_bps", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.String(5), nullable=False),
        sa.Column("window_end", sa.String(5), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(254), nullable=False),
        sa.CheckConstraint("minutes > 0", name=op.f("ck_payout_promise_terms_minutes_positive")),
        sa.CheckConstraint(
            "compensation_bps BETWEEN 0 AND 10000",
            name=op.f("ck_payout_promise_terms_compensation_bps_range"),
        ),
        sa.PrimaryKeyConstraint("rail", name=op.f("pk_payout_promise_terms")),
    )
    op.create_table(
        "trade_promises",
        sa.Column("trade_id", sa.String(36), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("applies", sa.Boolean(), nullable=False),
        sa.Column("excluded_because", sa.String(20), nullable=True),
        sa.Column("compensation_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("compensated_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "compensation_amount >= 0", name=op.f("ck_trade_promises_compensation_not_negative")
        ),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], name=op.f("fk_trade_promises_trade_id_trades")),
        sa.PrimaryKeyConstraint("trade_id", name=op.f("pk_trade_promises")),
    )
    op.create_index("ix_trade_promises_compensated", "trade_promises", ["compensated_at"])


def downgrade() -> None:
    op.drop_index("ix_trade_promises_compensated", table_name="trade_promises")
    op.drop_table("trade_promises")
    op.drop_table("payout_promise_terms")
