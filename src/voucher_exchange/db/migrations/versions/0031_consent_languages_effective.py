"""Consent texts in Korean and English, each version with the moment it takes effect

A version published before this had one text for both languages: it becomes both, in force
from its publication.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_documents") as batch:
        batch.add_column(sa.Column("title_en", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("body_en", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("effective_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE consent_documents SET title_en = title, body_en = body, effective_at = published_at")
    with op.batch_alter_table("consent_documents") as batch:
        batch.alter_column("effective_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("consent_documents") as batch:
        batch.drop_column("effective_at")
        batch.drop_column("body_en")
        batch.drop_column("title_en")
