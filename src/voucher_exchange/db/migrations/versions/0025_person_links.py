"""Debts follow the person: keyed fingerprints that tie accounts to one person, and a closed login

`person_links` holds, per account, the vault's keyed fingerprint of its verified identity
(legal name and birth date) and, once its login is closed, of its e-mail address. Another
account with the same fingerprint (or a payout account with the same fingerprint) is the same
person: it settles what that person owes. The fingerprints need the vault's key, which the
migration does not have: they are written at each identity check and when a login is closed
(`voucher-exchange reversals link-identities` writes them for checks made before this revision).

`users.closed_at`: the login was closed (no sign-in, no session), the record kept.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_links",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "user_id", name=op.f("pk_person_links")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_person_links_user_id_users")),
        sa.CheckConstraint("kind IN ('identity', 'email')", name=op.f("ck_person_links_kind")),
    )
    op.create_index(op.f("ix_person_links_user_id"), "person_links", ["user_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("closed_at")
    op.drop_index(op.f("ix_person_links_user_id"), table_name="person_links")
    op.drop_table("person_links")
