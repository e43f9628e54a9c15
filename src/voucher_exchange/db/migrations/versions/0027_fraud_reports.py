"""Fraud reports and cases: reports kept as keyed fingerprints, cases with their matched trades,
and payout freezes (a hold on a seller's next payouts up to an amount)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(), nullable=nullable)


_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Every name is this revision's own, not the naming convention's (which may change).
    op.create_table(
        "payout_freezes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _when("created_at"),
        _when("released_at", nullable=True),
        sa.Column("released_by", sa.String(254), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_freezes")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payout_freezes_user_id_users")),
        sa.UniqueConstraint("reference", name=op.f("uq_payout_freezes_reference")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payout_freezes_amount_positive")),
    )
    op.create_index(op.f("ix_payout_freezes_user"), "payout_freezes", ["user_id", "released_at"])
    op.create_table(
        "payout_freeze_holds",
        sa.Column("freeze_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _when("held_at"),
        sa.PrimaryKeyConstraint("freeze_id", "reference", name=op.f("pk_payout_freeze_holds")),
        sa.ForeignKeyConstraint(
            ["freeze_id"], ["payout_freezes.id"], name=op.f("fk_payout_freeze_holds_freeze_id_payout_freezes")
        ),
    )
    op.create_table(
        "fraud_reports",
        sa.Column("id", sa.String(36), nullable=False),
        _when("received_at"),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("reporter_user_id", sa.String(36), nullable=True),
        sa.Column("reporter_enc", sa.LargeBinary(), nullable=False),
        sa.Column("police_case_number", sa.String(64), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("code_count", sa.Integer(), nullable=False),
        _when("matched_at", nullable=True),
        sa.Column("match_count", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_reports")),
        sa.ForeignKeyConstraint(
            ["reporter_user_id"], ["users.id"], name=op.f("fk_fraud_reports_reporter_user_id_users")
        ),
        sa.CheckConstraint("source IN ('public', 'issuer')", name=op.f("ck_fraud_reports_source")),
    )
    op.create_index(op.f("ix_fraud_reports_received_at"), "fraud_reports", ["received_at"])
    op.create_table(
        "fraud_report_codes",
        sa.Column("id", _AUTO_ID, nullable=False, autoincrement=True),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("brand_slug", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("masked", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_report_codes")),
        sa.ForeignKeyConstraint(
            ["report_id"], ["fraud_reports.id"], name=op.f("fk_fraud_report_codes_report_id_fraud_reports")
        ),
    )
    op.create_index(op.f("ix_fraud_report_codes_report_id"), "fraud_report_codes", ["report_id"])
    op.create_index(op.f("ix_fraud_report_codes_fingerprint"), "fraud_report_codes", ["fingerprint"])
    op.create_table(
        "fraud_cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        _when("received_at"),
        _when("opened_at"),
        _when("frozen_at", nullable=True),
        _when("closed_at", nullable=True),
        sa.Column("closed_by", sa.String(254), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_cases")),
        sa.ForeignKeyConstraint(
            ["report_id"], ["fraud_reports.id"], name=op.f("fk_fraud_cases_report_id_fraud_reports")
        ),
        sa.UniqueConstraint("report_id", name=op.f("uq_fraud_cases_report_id")),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_fraud_cases_status")),
    )
    op.create_index(op.f("ix_fraud_cases_received"), "fraud_cases", ["received_at"])
    op.create_table(
        "fraud_matches",
        sa.Column("id", _AUTO_ID, nullable=False, autoincrement=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("trade_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("masked", sa.String(16), nullable=False),
        sa.Column("status_at_match", sa.String(20), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _when("matched_at"),
        sa.Column("issuer_block", sa.String(20), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        _when("outcome_at", nullable=True),
        sa.Column("outcome_by", sa.String(254), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_matches")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["fraud_cases.id"], name=op.f("fk_fraud_matches_case_id_fraud_cases")
        ),
        sa.UniqueConstraint("case_id", "trade_id", name=op.f("uq_fraud_matches_case_trade")),
        sa.CheckConstraint("action IN ('held', 'frozen', 'noted')", name=op.f("ck_fraud_matches_action")),
    )


def downgrade() -> None:
    for table in (
        "fraud_matches",
        "fraud_cases",
        "fraud_report_codes",
        "fraud_reports",
        "payout_freeze_holds",
        "payout_freezes",
    ):
        op.drop_table(table)
