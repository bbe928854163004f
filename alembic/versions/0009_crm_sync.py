"""crm-sync: static segments (segments.kind), export runs and signing keys, imports

Revision ID: 0009_crm_sync
Revises: 0008_webhook_format
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0009_crm_sync"
down_revision: str | None = "0008_webhook_format"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "segments",
        sa.Column("kind", sa.String(length=8), server_default="RULE", nullable=False),
    )
    op.create_check_constraint(op.f("ck_segments_kind"), "segments", "kind IN ('RULE', 'STATIC')")
    op.create_table(
        "export_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("since_position", sa.BigInteger(), nullable=False),
        sa.Column("until_position", sa.BigInteger(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_runs")),
        sa.UniqueConstraint(
            "kind", "since_position", name=op.f("uq_export_runs_kind_since_position")
        ),
    )
    op.create_table(
        "export_signing_keys",
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_export_signing_keys")),
    )
    op.create_table(
        "marketing_imports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_imports")),
    )


def downgrade() -> None:
    op.drop_table("marketing_imports")
    op.drop_table("export_signing_keys")
    op.drop_table("export_runs")
    op.drop_constraint(op.f("ck_segments_kind"), "segments", type_="check")
    op.drop_column("segments", "kind")
