"""A seller's bank accounts: one marked as the default, and removed ones kept for the trades that used them

Revision ID: 0015_korean_forms
Revises: 0012
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from voucher_exchange.db.types import UTCDateTime

revision: str = "0015_korean_forms"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payout_destinations") as batch:
        batch.add_column(sa.Column("is_default", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("removed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payout_destinations") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("is_default")
