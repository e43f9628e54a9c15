"""A seller's bank accounts: a default and removed ones kept; batches previewed, then sold once

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Instants are sa.DateTime(): the DDL voucher_exchange.db.types.UTCDateTime rendered when this
# revision was written. A migration imports no application code: replaying history must not
# change when the application does (docs/architecture.md, "One schema").

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payout_destinations") as batch:
        batch.add_column(sa.Column("is_default", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("removed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "trade_batches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("brand_slug", sa.String(length=64), nullable=False),
        sa.Column("face_value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("acquired_on", sa.Date(), nullable=False),
        sa.Column("payout_destination_id", sa.String(length=36), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("payout_each", sa.BigInteger(), nullable=False),
        sa.Column("lines_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("summarized_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_trade_batches_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_batches")),
    )
    with op.batch_alter_table("trade_batches") as batch:
        batch.create_index(batch.f("ix_trade_batches_user_id"), ["user_id"], unique=False)
    op.create_table(
        "trade_batch_lines",
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("masked", sa.String(length=12), nullable=False),
        sa.Column("trade_id", sa.String(length=36), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["trade_batches.id"], name=op.f("fk_trade_batch_lines_batch_id_trade_batches")
        ),
        sa.PrimaryKeyConstraint("batch_id", "number", name=op.f("pk_trade_batch_lines")),
        sa.UniqueConstraint("trade_id", name=op.f("uq_trade_batch_lines_trade_id")),
    )


def downgrade() -> None:
    op.drop_table("trade_batch_lines")
    with op.batch_alter_table("trade_batches") as batch:
        batch.drop_index(batch.f("ix_trade_batches_user_id"))
    op.drop_table("trade_batches")
    with op.batch_alter_table("payout_destinations") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("is_default")
