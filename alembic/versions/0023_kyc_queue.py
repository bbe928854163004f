"""kyc: a partial index for the staff queue (cases awaiting a decision, oldest first)

Revision ID: 0023_kyc_queue
Revises: 0022_import_batches
Create Date: 2026-12-01 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023_kyc_queue"
down_revision: str | None = "0022_import_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_kyc_cases_awaiting_created_at", "kyc_cases", ["created_at", "id"],
        postgresql_where=sa.text("status IN ('PENDING', 'MANUAL_REVIEW')"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_kyc_cases_awaiting_created_at", "kyc_cases")
