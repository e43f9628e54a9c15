"""Trade histories are hash-chained, one chain per trade (existing events are chained in order)

Revision ID: 0012
Revises: 0011
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

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen as of revision 0012: the hash chain of voucher_exchange.audit.chain as it was when this
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
    """Frozen as of revision 0012: voucher_exchange.db.types.UTCDateTime as it was then (naive UTC
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


_events = sa.table(
    "trade_events",
    sa.column("id", sa.BigInteger()),
    sa.column("trade_id", sa.String()),
    sa.column("at", _UTCDateTime()),
    sa.column("from_status", sa.String()),
    sa.column("to_status", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("note", sa.Text()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("trade_events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    heads: dict[str, str] = {}
    for r in conn.execute(sa.select(_events).order_by(_events.c.trade_id, _events.c.id)).all():
        prev = heads.get(r.trade_id, _GENESIS)
        action = f"{r.from_status or ''}->{r.to_status}"
        entry = _link(prev, _canonical(r.actor, action, r.trade_id, {"note": r.note}, r.at))
        conn.execute(sa.update(_events).where(_events.c.id == r.id).values(prev_hash=prev, hash=entry))
        heads[r.trade_id] = entry


def downgrade() -> None:
    with op.batch_alter_table("trade_events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
