"""Risk windows: per-minute trade counts per device and brand, and seller links per device, IP
and bank account, backfilled from the last 31 days of trades

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP = timedelta(days=31)
CHUNK = 10_000


class _UTCDateTime(TypeDecorator[datetime]):
    """Frozen as of revision 0017: voucher_exchange.db.types.UTCDateTime as it was then (naive UTC
    stored, aware UTC read). A migration imports no application code: replaying history must not
    change when the application does (docs/architecture.md, "One schema"). Its DDL is sa.DateTime()'s.
    """

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


# This revision's view of the tables: the migration must not follow later changes to schema.py.
_trades = sa.table(
    "trades",
    sa.column("user_id", sa.String()),
    sa.column("brand_slug", sa.String()),
    sa.column("device_id", sa.String()),
    sa.column("client_ip", sa.String()),
    sa.column("account_fingerprint", sa.String()),
    sa.column("created_at", _UTCDateTime()),
)
_counts = sa.table(
    "risk_counts",
    sa.column("kind", sa.String()),
    sa.column("key", sa.String()),
    sa.column("bucket", _UTCDateTime()),
    sa.column("shard", sa.Integer()),
    sa.column("n", sa.Integer()),
)
_links = sa.table(
    "risk_links",
    sa.column("kind", sa.String()),
    sa.column("key", sa.String()),
    sa.column("user_id", sa.String()),
    sa.column("last_seen", _UTCDateTime()),
)


def backfill(conn: sa.Connection, now: datetime) -> tuple[int, int]:
    """Fill both tables from the trades created since `now` - 31 days; (count rows, link rows).

    In Python because flooring to the minute is spelt differently in SQLite and PostgreSQL.
    Every count goes to shard 0: shards only spread concurrent writers, reads sum them all.
    """
    t = _trades.c
    counts: Counter[tuple[str, str, datetime]] = Counter()
    links: dict[tuple[str, str, str], datetime] = {}
    recent = sa.select(t.user_id, t.brand_slug, t.device_id, t.client_ip, t.account_fingerprint, t.created_at)
    rows = conn.execute(recent.where(t.created_at >= now - KEEP).execution_options(yield_per=CHUNK))
    for user_id, brand, device, ip, account, created_at in rows:
        minute = created_at.replace(second=0, microsecond=0)
        counts["brand", brand, minute] += 1
        if device:
            counts["device", device, minute] += 1
        for kind, key in (("device", device), ("ip", ip), ("account", account)):
            if key:
                seen = links.get((kind, key, user_id))
                if seen is None or created_at > seen:
                    links[kind, key, user_id] = created_at
    count_rows = [
        {"kind": kind, "key": key, "bucket": minute, "shard": 0, "n": n}
        for (kind, key, minute), n in counts.items()
    ]
    link_rows = [
        {"kind": kind, "key": key, "user_id": user, "last_seen": seen}
        for (kind, key, user), seen in links.items()
    ]
    for start in range(0, len(count_rows), CHUNK):
        conn.execute(_counts.insert(), count_rows[start : start + CHUNK])
    for start in range(0, len(link_rows), CHUNK):
        conn.execute(_links.insert(), link_rows[start : start + CHUNK])
    return len(count_rows), len(link_rows)


def upgrade() -> None:
    op.create_table(
        "risk_counts",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('device', 'brand')", name=op.f("ck_risk_counts_kind")),
        sa.PrimaryKeyConstraint("kind", "key", "bucket", "shard", name=op.f("pk_risk_counts")),
    )
    op.create_index("ix_risk_counts_bucket", "risk_counts", ["bucket"], unique=False)
    op.create_table(
        "risk_links",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('device', 'ip', 'account')", name=op.f("ck_risk_links_kind")),
        sa.PrimaryKeyConstraint("kind", "key", "user_id", name=op.f("pk_risk_links")),
    )
    op.create_index("ix_risk_links_kind_key_seen", "risk_links", ["kind", "key", "last_seen"], unique=False)
    # Migrations have no injected clock; the deployment's real time is the right "now" here.
    backfill(op.get_bind(), datetime.now(UTC))


def downgrade() -> None:
    op.drop_index("ix_risk_links_kind_key_seen", table_name="risk_links")
    op.drop_table("risk_links")
    op.drop_index("ix_risk_counts_bucket", table_name="risk_counts")
    op.drop_table("risk_counts")
