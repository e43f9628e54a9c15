"""The trust shell: the operator's business profile, versioned consent texts, consents per user

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Instants are sa.DateTime(): the DDL voucher_exchange.db.types.UTCDateTime rendered when this
# revision was written. A migration imports no application code: replaying history must not
# change when the application does (docs/architecture.md, "One schema").

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "business_profile",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("business_name", sa.String(length=100), nullable=False),
        sa.Column("representative", sa.String(length=100), nullable=False),
        sa.Column("registration_number", sa.String(length=100), nullable=False),
        sa.Column("mail_order_number", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("support_phone", sa.String(length=100), nullable=False),
        sa.Column("support_email", sa.String(length=254), nullable=False),
        sa.Column("support_hours", sa.String(length=100), nullable=False),
        sa.Column("kakao_channel_url", sa.String(length=200), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_business_profile_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_profile")),
    )
    op.create_table(
        "consent_documents",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("kind", "version", name=op.f("pk_consent_documents")),
    )
    op.create_table(
        "user_consents",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_consents_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "kind", "version", name=op.f("pk_user_consents")),
    )


def downgrade() -> None:
    op.drop_table("user_consents")
    op.drop_table("consent_documents")
    op.drop_table("business_profile")
