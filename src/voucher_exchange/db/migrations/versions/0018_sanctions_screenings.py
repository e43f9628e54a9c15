"""Sanctions standing in risk's own table: each screening of a customer's legal name or a payout
account holder's name, moved out of `users` and `payout_destinations`

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sanctions_screenings",
        sa.Column("subject", sa.String(12), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("strength", sa.String(10), nullable=False, server_default="none"),
        sa.Column("match", sa.JSON(), nullable=True),
        sa.Column("list_id", _AUTO_ID, nullable=True),
        # Every name is this revision's own, not the naming convention's (which may change).
        sa.PrimaryKeyConstraint("subject", "subject_id", name=op.f("pk_sanctions_screenings")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sanctions_screenings_user_id_users")
        ),
        sa.CheckConstraint(
            "subject IN ('customer', 'destination')", name=op.f("ck_sanctions_screenings_subject")
        ),
    )
    op.create_index(op.f("ix_sanctions_screenings_user_id"), "sanctions_screenings", ["user_id"])
    # Only screenings that happened or found something move; "never screened" is no row.
    op.execute(
        "INSERT INTO sanctions_screenings (subject, subject_id, user_id, strength, match, list_id) "
        "SELECT 'customer', id, id, sanctions_strength, sanctions_match, screened_list_id FROM users "
        "WHERE sanctions_strength <> 'none' OR sanctions_match IS NOT NULL OR screened_list_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO sanctions_screenings (subject, subject_id, user_id, strength, match, list_id) "
        "SELECT 'destination', id, user_id, sanctions_strength, sanctions_match, NULL FROM payout_destinations "
        "WHERE sanctions_strength <> 'none' OR sanctions_match IS NOT NULL"
    )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("sanctions_strength")
        batch.drop_column("sanctions_match")
        batch.drop_column("screened_list_id")
    with op.batch_alter_table("payout_destinations") as batch:
        batch.drop_column("sanctions_strength")
        batch.drop_column("sanctions_match")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("sanctions_strength", sa.String(10), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("sanctions_match", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("screened_list_id", _AUTO_ID, nullable=True))
    with op.batch_alter_table("payout_destinations") as batch:
        batch.add_column(
            sa.Column("sanctions_strength", sa.String(10), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("sanctions_match", sa.JSON(), nullable=True))
    for subject, table, key in (("customer", "users", "id"), ("destination", "payout_destinations", "id")):
        op.execute(
            f"UPDATE {table} SET sanctions_strength = (SELECT s.strength FROM sanctions_screenings s "  # noqa: S608
            f"WHERE s.subject = '{subject}' AND s.subject_id = {table}.{key}), "
            f"sanctions_match = (SELECT s.match FROM sanctions_screenings s "
            f"WHERE s.subject = '{subject}' AND s.subject_id = {table}.{key}) "
            f"WHERE EXISTS (SELECT 1 FROM sanctions_screenings s "
            f"WHERE s.subject = '{subject}' AND s.subject_id = {table}.{key})"
        )
    op.execute(
        "UPDATE users SET screened_list_id = (SELECT s.list_id FROM sanctions_screenings s "
        "WHERE s.subject = 'customer' AND s.subject_id = users.id)"
    )
    op.drop_index(op.f("ix_sanctions_screenings_user_id"), table_name="sanctions_screenings")
    op.drop_table("sanctions_screenings")
