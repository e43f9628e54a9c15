"""KYC tier 2: identity documents sellers upload and reviewers decide

The row holds what the document is (kind, sniffed type, size, SHA-256 of the plaintext) and the
decision; the image itself is an encrypted file under var/ (`file_name`, NULL once deleted after
the retention period). The decision row is kept.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "identity_documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(80), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _when("uploaded_at", nullable=False),
        _when("decided_at"),
        sa.Column("decided_by", sa.String(36), nullable=True),
        _when("file_deleted_at"),
        # Every name is this revision's own, not the naming convention's (which may change).
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_documents")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_identity_documents_user_id_users")),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name=op.f("ck_identity_documents_status")
        ),
        sa.CheckConstraint(
            "kind IN ('id_card', 'driver_license', 'passport')", name=op.f("ck_identity_documents_kind")
        ),
    )
    op.create_index(op.f("ix_identity_documents_user"), "identity_documents", ["user_id", "uploaded_at"])
    op.create_index(op.f("ix_identity_documents_status"), "identity_documents", ["status", "uploaded_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_identity_documents_status"), table_name="identity_documents")
    op.drop_index(op.f("ix_identity_documents_user"), table_name="identity_documents")
    op.drop_table("identity_documents")
