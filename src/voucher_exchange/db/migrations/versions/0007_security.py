"""Security: keyed idempotency hashes (old rows purged), rate-limit counters, expiring API tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class _UTCDateTime(TypeDecorator[datetime]):
    """Frozen as of revision 0007: voucher_exchange.db.types.UTCDateTime as it was then (naive UTC
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


# Tokens issued before this revision never expired; they now last as long as a new one.
API_TOKEN_DAYS = 30


def upgrade() -> None:
    # The stored request hashes were unkeyed SHA-256 digests of bodies holding voucher codes,
    # PINs and account numbers. The bodies are not kept, so they cannot be re-hashed under the
    # vault's key: every record goes. The cost is that a retry of a request sent before the
    # upgrade runs again instead of replaying (a quote or destination twice; a trade's second
    # submission is refused as a duplicate voucher).
    op.execute(sa.text("DELETE FROM idempotency_keys"))
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_at"])
    op.create_table(
        "rate_counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "subject", "window_start", name=op.f("pk_rate_counters")),
    )
    # Counted per e-mail only, so anyone could lock anyone out; rate_counters replaces it.
    op.drop_table("login_failures")
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=8), nullable=False, server_default="api"))
    expires = datetime.now(UTC) + timedelta(days=API_TOKEN_DAYS)
    tokens = sa.table("api_tokens", sa.column("expires_at", _UTCDateTime()))
    op.execute(tokens.update().where(tokens.c.expires_at.is_(None)).values(expires_at=expires))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("kind")
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
    op.drop_table("rate_counters")
    op.drop_index("ix_idempotency_keys_created", table_name="idempotency_keys")
