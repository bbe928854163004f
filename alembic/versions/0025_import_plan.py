"""import-plan: a marketing import keeps the plan its first confirmation validated, so a
resumed confirmation applies (and cuts into batches) exactly that, not a plan made again
on data that changed since.

Revision ID: 0025_import_plan
Revises: 0024_analytics_facts
Create Date: 2026-12-01 18:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0025_import_plan"
down_revision: str | None = "0024_analytics_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for imports claimed before: their resume validates again, as it did.
    op.add_column("marketing_imports", sa.Column("plan", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("marketing_imports", "plan")
