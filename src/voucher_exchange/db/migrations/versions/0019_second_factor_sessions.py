"""The second factor binds the session: each token records whether it was issued after a right
two-factor code, and an unconfirmed enrolment records the session that began it

Tokens that exist when this runs were issued before the column did: none of them counts as
having passed the second factor, so staff sign in once more, with their code.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("second_factor", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("staff_totp") as batch:
        batch.add_column(sa.Column("begun_by", sa.String(64), nullable=True))
    # An enrolment left unconfirmed belongs to no session: its owner may start over.


def downgrade() -> None:
    with op.batch_alter_table("staff_totp") as batch:
        batch.drop_column("begun_by")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("second_factor")
