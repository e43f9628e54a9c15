"""Signed receipts: the receipt-signing public keys and each paid trade's issued receipt

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Instants are sa.DateTime(): the DDL voucher_exchange.db.types.UTCDateTime rendered when this
# revision was written. A migration imports no application code: replaying history must not
# change when the application does (docs/architecture.md, "One schema").

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipt_keys",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_receipt_keys")),
        sa.UniqueConstraint("public_key", name=op.f("uq_receipt_keys_public_key")),
    )
    op.create_table(
        "receipts",
        sa.Column("trade_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["receipt_keys.key_id"], name=op.f("fk_receipts_key_id_receipt_keys")
        ),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], name=op.f("fk_receipts_trade_id_trades")),
        sa.PrimaryKeyConstraint("trade_id", name=op.f("pk_receipts")),
    )


def downgrade() -> None:
    op.drop_table("receipts")
    op.drop_table("receipt_keys")
