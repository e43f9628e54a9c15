"""The issuer guard: issuers and their facts, failed issuer calls, settlements per statement and
brand, the operator's rules, the actions taken, exposure per day; a daily cap on brands

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    # Every name is this revision's own, not the naming convention's (which may change).
    with op.batch_alter_table("brands") as batch:
        batch.add_column(sa.Column("daily_cap", sa.BigInteger(), nullable=True))
    op.create_table(
        "issuers",
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("registration_status", sa.String(12), nullable=False, server_default="unknown"),
        sa.Column("registration_number", sa.String(60), nullable=True),
        sa.Column("insurance_expires_on", sa.Date(), nullable=True),
        sa.Column("exposure_limit", sa.BigInteger(), nullable=True),
        _when("updated_at"),
        sa.Column("updated_by", sa.String(254), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_issuers")),
        sa.CheckConstraint(
            "registration_status IN ('registered', 'unregistered', 'unknown')",
            name=op.f("ck_issuers_registration_status"),
        ),
    )
    op.create_table(
        "issuer_call_failures",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("brand_slug", sa.String(60), nullable=False),
        sa.Column("operation", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        _when("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_call_failures")),
        sa.CheckConstraint("kind IN ('failure', 'timeout')", name=op.f("ck_issuer_call_failures_kind")),
    )
    op.create_index(op.f("ix_issuer_call_failures_at"), "issuer_call_failures", ["at"])
    op.create_table(
        "issuer_settlements",
        sa.Column("run_id", _ID, autoincrement=False, nullable=False),
        sa.Column("brand_slug", sa.String(60), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expected", sa.BigInteger(), nullable=False),
        sa.Column("settled", sa.BigInteger(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("run_id", "brand_slug", name=op.f("pk_issuer_settlements")),
    )
    op.create_index(op.f("ix_issuer_settlements_date"), "issuer_settlements", ["statement_date"])
    op.create_table(
        "issuer_guard_rules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("issuer", sa.String(60), nullable=True),
        sa.Column("signal", sa.String(30), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="1"),
        _when("created_at"),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_guard_rules")),
        sa.CheckConstraint(
            "action IN ('lower_rate', 'cap_daily_volume', 'pause_quotes', 'suspend')",
            name=op.f("ck_issuer_guard_rules_action"),
        ),
    )
    op.create_table(
        "issuer_guard_actions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("issuer", sa.String(60), nullable=False),
        sa.Column("rule_id", _ID, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("signal", sa.String(30), nullable=False),
        sa.Column("observed", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("brands", sa.JSON(), nullable=False),
        _when("started_at"),
        _when("lifted_at", nullable=True),
        sa.Column("lifted_by", sa.String(254), nullable=True),
        _when("rearmed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_guard_actions")),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["issuer_guard_rules.id"],
            name=op.f("fk_issuer_guard_actions_rule_id_issuer_guard_rules"),
        ),
    )
    op.create_index(
        op.f("uq_issuer_guard_actions_in_force"),
        "issuer_guard_actions",
        ["rule_id"],
        unique=True,
        sqlite_where=sa.text("lifted_at IS NULL"),
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.create_index(op.f("ix_issuer_guard_actions_issuer"), "issuer_guard_actions", ["issuer", "started_at"])
    op.create_table(
        "issuer_exposure_points",
        sa.Column("issuer", sa.String(60), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("exposure", sa.BigInteger(), nullable=False),
        sa.Column("peak", sa.BigInteger(), nullable=False),
        sa.Column("limit_amount", sa.BigInteger(), nullable=True),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("issuer", "day", name=op.f("pk_issuer_exposure_points")),
    )


def downgrade() -> None:
    op.drop_table("issuer_exposure_points")
    op.drop_index(op.f("ix_issuer_guard_actions_issuer"), table_name="issuer_guard_actions")
    op.drop_index(op.f("uq_issuer_guard_actions_in_force"), table_name="issuer_guard_actions")
    op.drop_table("issuer_guard_actions")
    op.drop_table("issuer_guard_rules")
    op.drop_index(op.f("ix_issuer_settlements_date"), table_name="issuer_settlements")
    op.drop_table("issuer_settlements")
    op.drop_index(op.f("ix_issuer_call_failures_at"), table_name="issuer_call_failures")
    op.drop_table("issuer_call_failures")
    op.drop_table("issuers")
    with op.batch_alter_table("brands") as batch:
        batch.drop_column("daily_cap")
