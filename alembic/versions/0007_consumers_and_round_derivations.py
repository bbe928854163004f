"""outbox consumers; what a settled round added to derived state; sealed webhook secrets

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_consumer_cursors",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_event_consumer_cursors")),
    )
    op.create_table(
        "event_consumptions",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_event_consumptions")),
    )
    op.alter_column(
        "webhook_endpoints",
        "secret",
        type_=sa.String(length=512),
        existing_type=sa.String(length=256),
        existing_nullable=False,
    )
    op.add_column(
        "game_rounds",
        sa.Column(
            "derived",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("game_rounds", "derived")
    op.alter_column(
        "webhook_endpoints",
        "secret",
        type_=sa.String(length=256),
        existing_type=sa.String(length=512),
        existing_nullable=False,
    )
    op.drop_table("event_consumptions")
    op.drop_table("event_consumer_cursors")
