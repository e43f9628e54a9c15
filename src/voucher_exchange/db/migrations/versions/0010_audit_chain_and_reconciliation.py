"""Tamper-evident audit log (hash chain, backfilled) and stored reconciliation runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen as of revision 0010: the hash chain of voucher_exchange.audit.chain as it was when this
# revision was written (GENESIS, canonical, link), and the instants of voucher_exchange.db.types.
# A migration imports no application code: replaying history must not change when the application
# does (docs/architecture.md, "One schema"). The live chain verifies what these wrote (tests/audit).
_GENESIS = "0" * 64


def _canonical(actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime) -> str:
    """The entry's content as the bytes-stable JSON that is hashed."""
    content = {
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "time": at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _link(prev_hash: str, content: str) -> str:
    """SHA-256 (hex) over the previous hash and the canonical content."""
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


class _UTCDateTime(TypeDecorator[datetime]):
    """Frozen as of revision 0010: voucher_exchange.db.types.UTCDateTime as it was then (naive UTC
    stored, aware UTC read). Its DDL is sa.DateTime()'s."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_audit = sa.table(
    "audit_log",
    sa.column("id", AUTO_ID),
    sa.column("at", _UTCDateTime()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("subject", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def _backfill() -> tuple[int | None, str]:
    """Chain the existing entries in id order; returns the head (last id, hash)."""
    conn = op.get_bind()
    head, last_id = _GENESIS, None
    rows = conn.execute(sa.select(_audit).order_by(_audit.c.id)).all()
    for r in rows:
        entry = _link(head, _canonical(r.actor, r.action, r.subject, r.details, r.at))
        conn.execute(sa.update(_audit).where(_audit.c.id == r.id).values(prev_hash=head, hash=entry))
        head, last_id = entry, int(r.id)
    return last_id, head


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    last_id, head = _backfill()
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
    chain_head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", AUTO_ID, nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(chain_head, [{"id": 1, "last_id": last_id, "hash": head}])
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("tolerance_seconds", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("missing_ours", sa.Integer(), nullable=False),
        sa.Column("missing_theirs", sa.Integer(), nullable=False),
        sa.Column("mismatched", sa.Integer(), nullable=False),
        sa.Column("unmatched", sa.JSON(), nullable=False),
        sa.Column("run_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("source IN ('issuer', 'rail')", name=op.f("ck_reconciliation_runs_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index("ix_reconciliation_runs_created", "reconciliation_runs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_reconciliation_runs_created", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
