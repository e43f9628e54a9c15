"""Four eyes on insider powers: role requests a second operator approves, code reveal requests a
second staff member approves (and the record of who saw which code)

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "role_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("target_user_id", sa.String(36), nullable=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("roles_before", sa.String(100), nullable=False),
        sa.Column("roles_after", sa.String(100), nullable=False),
        sa.Column("requested_by", sa.String(36), nullable=False),
        _when("requested_at"),
        _when("expires_at"),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("decided_by", sa.String(36), nullable=True),
        _when("decided_at", nullable=True),
        # Every name is this revision's own, not the naming convention's (which may change).
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_requests")),
        sa.ForeignKeyConstraint(
            ["target_user_id"], ["users.id"], name=op.f("fk_role_requests_target_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_role_requests_requested_by_users")
        ),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_role_requests_decided_by_users")),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined')", name=op.f("ck_role_requests_status")
        ),
        sa.CheckConstraint(
            "decided_by IS NULL OR decided_by <> requested_by", name=op.f("ck_role_requests_second_operator")
        ),
    )
    op.create_index(op.f("ix_role_requests_status"), "role_requests", ["status", "requested_at"])
    op.create_table(
        "reveal_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("trade_id", sa.String(36), nullable=False),
        sa.Column("requested_by", sa.String(36), nullable=False),
        _when("requested_at"),
        _when("expires_at"),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("approved_by", sa.String(36), nullable=True),
        _when("approved_at", nullable=True),
        _when("revealed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reveal_requests")),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], name=op.f("fk_reveal_requests_trade_id_trades")),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_reveal_requests_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["users.id"], name=op.f("fk_reveal_requests_approved_by_users")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'revealed')",
            name=op.f("ck_reveal_requests_status"),
        ),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> requested_by", name=op.f("ck_reveal_requests_second_staff")
        ),
    )
    op.create_index(op.f("ix_reveal_requests_trade"), "reveal_requests", ["trade_id", "requested_by"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reveal_requests_trade"), table_name="reveal_requests")
    op.drop_table("reveal_requests")
    op.drop_index(op.f("ix_role_requests_status"), table_name="role_requests")
    op.drop_table("role_requests")
