"""Dispute evidence: the outside facts a refusal or reversal rests on, and the seller's appeal

`trade_facts` (owned by trades) keeps each fact with the SHA-256 of the issuer's answer as
received and its position in the trade's event chain; `trade_appeals` (owned by disputes)
keeps a seller's appeal against a refusal and the reviewer's answer, one per trade.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    # Every name is this revision's own, not the naming convention's (which may change).
    op.create_table(
        "trade_facts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("trade_id", sa.String(36), nullable=False),
        _when("at"),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("what", sa.String(60), nullable=False),
        sa.Column("answer_sha256", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("event_index", sa.Integer(), nullable=True),
        sa.Column("event_hash", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_facts")),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], name=op.f("fk_trade_facts_trade_id_trades")),
    )
    op.create_index(op.f("ix_trade_facts_trade_id"), "trade_facts", ["trade_id"])
    op.create_table(
        "trade_appeals",
        sa.Column("trade_id", sa.String(36), nullable=False),
        sa.Column("seller", sa.String(254), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _when("appealed_at"),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(254), nullable=True),
        _when("answered_at", nullable=True),
        sa.PrimaryKeyConstraint("trade_id", name=op.f("pk_trade_appeals")),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], name=op.f("fk_trade_appeals_trade_id_trades")),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('upheld', 'overturned')", name=op.f("ck_trade_appeals_outcome")
        ),
    )


def downgrade() -> None:
    op.drop_table("trade_appeals")
    op.drop_index(op.f("ix_trade_facts_trade_id"), table_name="trade_facts")
    op.drop_table("trade_facts")
