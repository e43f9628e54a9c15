"""Where the latest reviews ended, found by an index instead of a scan of every trade's history

A quote tells the seller how long a review takes, from the latest 50 reviews' ends. Without an
index that read walked the whole of `trade_events` back from the newest row until it had found
50 (all of it while few or no trades are held), so every quote cost more as history grew. A
partial index holds only the events that leave review.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEFT_REVIEW = sa.text("from_status = 'in_review'")


def upgrade() -> None:
    op.create_index(
        "ix_trade_events_left_review",
        "trade_events",
        ["id"],
        sqlite_where=LEFT_REVIEW,
        postgresql_where=LEFT_REVIEW,
    )


def downgrade() -> None:
    op.drop_index("ix_trade_events_left_review", table_name="trade_events")
