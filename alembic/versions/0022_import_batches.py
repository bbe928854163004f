"""import-batches: a marketing import is applied in batches, each its own transaction;
``marketing_import_batches`` records the applied ones (a resumed confirmation skips them)
and ``marketing_imports`` keeps the batch size and when the last batch committed.

Revision ID: 0022_import_batches
Revises: 0021_rg_limit_reads
Create Date: 2026-12-01 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0022_import_batches"
down_revision: str | None = "0021_rg_limit_reads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("marketing_imports", sa.Column("batch_size", sa.Integer(), nullable=True))
    op.add_column(
        "marketing_imports", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Imports applied before batches existed were applied whole.
    op.execute("UPDATE marketing_imports SET completed_at = created_at")
    op.create_table(
        "marketing_import_batches",
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("players", sa.Integer(), nullable=False),
        sa.Column(
            "applied_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["marketing_imports.id"], ondelete="CASCADE",
            name=op.f("fk_marketing_import_batches_import_id_marketing_imports"),
        ),
        sa.PrimaryKeyConstraint("import_id", "batch", name=op.f("pk_marketing_import_batches")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("marketing_import_batches")
    op.drop_column("marketing_imports", "completed_at")
    op.drop_column("marketing_imports", "batch_size")
