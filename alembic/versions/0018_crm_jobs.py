"""crm-sync, part 2: background jobs (exports and imports started over the API) and
marketing-list uploads awaiting confirmation

Revision ID: 0018_crm_jobs
Revises: 0014_observability_analytics
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0018_crm_jobs"
down_revision: str | None = "0017_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="QUEUED", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=160), nullable=False),
        _at("lease_until"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        _at("started_at"),
        _at("finished_at"),
        sa.CheckConstraint(
            "state IN ('QUEUED', 'RUNNING', 'DONE', 'FAILED')", name=op.f("ck_jobs_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(
        "ix_jobs_runnable", "jobs", ["kind", "created_at"],
        postgresql_where=sa.text("state IN ('QUEUED', 'RUNNING')"),
    )  # fmt: skip
    op.create_table(
        "marketing_import_uploads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_import_uploads")),
        sa.UniqueConstraint("job_id", name=op.f("uq_marketing_import_uploads_job_id")),
    )


def downgrade() -> None:
    op.drop_table("marketing_import_uploads")
    op.drop_index("ix_jobs_runnable", table_name="jobs")
    op.drop_table("jobs")
