"""Jobs may carry the facts they need: a notice composed from the hand-off, not read again

The worker's pipeline knows, at the moment it moves a trade on, everything the seller's e-mail
says; it hands those facts over with the notice job (JSON text), so sending it reads nothing.
A job without a payload reads what it needs, as before.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("payload", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("payload")
