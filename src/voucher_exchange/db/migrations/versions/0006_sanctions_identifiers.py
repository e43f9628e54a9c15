"""Sanctions: identifiers and entry versions per listed name, clearances, payout freezes, nationality

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Instants are sa.DateTime(): the DDL voucher_exchange.db.types.UTCDateTime rendered when this
# revision was written. A migration imports no application code: replaying history must not
# change when the application does (docs/architecture.md, "One schema").

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("sanctions_names") as batch:
        batch.add_column(sa.Column("identifiers", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("entry_version", sa.String(length=16), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("nationality", sa.String(length=2), nullable=True))
    op.create_table(
        "sanctions_clearances",
        sa.Column("id", _AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("ent_num", sa.Integer(), nullable=False),
        sa.Column("entry_version", sa.String(length=16), nullable=False),
        sa.Column("listed_name", sa.String(length=400), nullable=False),
        sa.Column("trade_id", sa.String(length=36), nullable=True),
        sa.Column("cleared_by", sa.String(length=254), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sanctions_clearances_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"], ["trades.id"], name=op.f("fk_sanctions_clearances_trade_id_trades")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions_clearances")),
        sa.UniqueConstraint("user_id", "ent_num", "entry_version", name="uq_sanctions_clearances_user_entry"),
    )
    op.create_table(
        "sanctions_freezes",
        sa.Column("id", _AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("list_id", _AUTO_ID, nullable=False),
        sa.Column("ent_num", sa.Integer(), nullable=True),
        sa.Column("match", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sanctions_freezes_user_id_users")),
        sa.ForeignKeyConstraint(
            ["list_id"], ["sanctions_lists.id"], name=op.f("fk_sanctions_freezes_list_id_sanctions_lists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions_freezes")),
    )
    op.create_index("ix_sanctions_freezes_user_released", "sanctions_freezes", ["user_id", "released_at"])


def downgrade() -> None:
    op.drop_index("ix_sanctions_freezes_user_released", table_name="sanctions_freezes")
    op.drop_table("sanctions_freezes")
    op.drop_table("sanctions_clearances")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("nationality")
    with op.batch_alter_table("sanctions_names") as batch:
        batch.drop_column("entry_version")
        batch.drop_column("identifiers")
