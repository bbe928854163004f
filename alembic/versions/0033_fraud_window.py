"""fraud-window: the bet-rate signal counts the last 60 seconds, not the calendar minute.

``fraud_baselines.previous_minute_count`` keeps the minute before ``minute``'s count, so
the signal can weigh it by how much of it is still inside the window (app/fraud/
signals.py): a bot whose burst straddles a minute boundary is one burst, not two halves
each under the threshold. Existing rows start at 0 (the old signal for one minute).

Revision ID: 0033_fraud_window
Revises: 0032_segment_funnel
Create Date: 2026-12-02 01:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0033_fraud_window"
down_revision: str | None = "0032_segment_funnel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "fraud_baselines",
        sa.Column("previous_minute_count", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("fraud_baselines", "previous_minute_count")
