"""The business profile carries the service's name (header, page titles, e-mails, receipts)

A profile saved before this has none: the business name stands in until the operator sets one.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("business_profile") as batch:
        batch.add_column(sa.Column("service_name", sa.String(40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("business_profile") as batch:
        batch.drop_column("service_name")
