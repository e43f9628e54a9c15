"""Web app: the seller's language (for e-mails), login failures (throttling), session expiry

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Instants are sa.DateTime(): the DDL voucher_exchange.db.types.UTCDateTime rendered when this
# revision was written. A migration imports no application code: replaying history must not
# change when the application does (docs/architecture.md, "One schema").

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=5), nullable=False, server_default="ko"))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.create_table(
        "login_failures",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_email_at", "login_failures", ["email", "at"])
    op.create_index("ix_login_failures_ip_at", "login_failures", ["client_ip", "at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # The operator dashboard reads a window of recent trades and decisions.
    op.create_index("ix_trades_created", "trades", ["created_at"])
    op.create_index("ix_decisions_created", "decisions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_decisions_created", table_name="decisions")
    op.drop_index("ix_trades_created", table_name="trades")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("login_failures")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
