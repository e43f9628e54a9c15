"""Webhooks: a seller's endpoints, the events written with the facts, deliveries and their attempts

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    # Every name is this revision's own, not the naming convention's (which may change).
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="enabled"),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("old_secret_enc", sa.LargeBinary(), nullable=True),
        _when("old_secret_until", nullable=True),
        _when("failing_since", nullable=True),
        sa.Column("disabled_reason", sa.String(40), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_webhook_endpoints_user_id_users")),
        sa.CheckConstraint(
            "status IN ('enabled', 'disabled', 'deleted')", name=op.f("ck_webhook_endpoints_status")
        ),
    )
    op.create_index(op.f("ix_webhook_endpoints_user"), "webhook_endpoints", ["user_id", "status"])
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_webhook_events_user_id_users")),
    )
    op.create_index(op.f("ix_webhook_events_user"), "webhook_events", ["user_id", "created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _when("next_attempt_at", nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["webhook_events.id"], name=op.f("fk_webhook_deliveries_event_id_webhook_events")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_webhook_deliveries_status")
        ),
        sa.UniqueConstraint("endpoint_id", "event_id", name=op.f("uq_webhook_deliveries_endpoint_event")),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        _when("at"),
        _when("next_attempt_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_attempts_endpoint_id_webhook_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["webhook_events.id"], name=op.f("fk_webhook_attempts_event_id_webhook_events")
        ),
        sa.UniqueConstraint("delivery_id", "attempt", name=op.f("uq_webhook_attempts_delivery_attempt")),
    )
    op.create_index(op.f("ix_webhook_attempts_endpoint"), "webhook_attempts", ["endpoint_id", "at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_attempts_endpoint"), table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_webhook_events_user"), table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index(op.f("ix_webhook_endpoints_user"), table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
