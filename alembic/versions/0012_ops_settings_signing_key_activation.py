"""signing keys: activates_at (pre-published rotation, issue 17 item 2)

Revision ID: 0012_ops_settings
Revises: 0011_fraud
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012_ops_settings"
down_revision: str | None = "0011_fraud"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("activates_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("signing_keys", "activates_at")
