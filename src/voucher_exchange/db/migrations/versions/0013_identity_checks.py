"""Identity is an event: every check is kept; the list a customer was last screened against

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Instants are sa.DateTime(): the DDL voucher_exchange.db.types.UTCDateTime rendered when this
# revision was written. A migration imports no application code: replaying history must not
# change when the application does (docs/architecture.md, "One schema").

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_checks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=60)),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("nationality", sa.String(length=2)),
        sa.Column("name_changed", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("tier_before", sa.Integer(), nullable=False),
        sa.Column("tier_after", sa.Integer(), nullable=False),
        # Named here, as schema.py's naming convention named them when this revision ran: the
        # names of what a migration creates must not follow later changes to schema.py.
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_identity_checks_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_checks")),
    )
    op.create_index("ix_identity_checks_user", "identity_checks", ["user_id", "checked_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("screened_list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("screened_list_id")
    op.drop_index("ix_identity_checks_user", table_name="identity_checks")
    op.drop_table("identity_checks")
