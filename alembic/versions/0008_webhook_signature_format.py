"""webhook endpoints: signature format (pms | standard)

Revision ID: 0008_webhook_format
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008_webhook_format"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_endpoints",
        sa.Column("signature_format", sa.String(length=16), server_default="pms", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_webhook_endpoints_signature_format"),
        "webhook_endpoints",
        "signature_format IN ('pms', 'standard')",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_webhook_endpoints_signature_format"), "webhook_endpoints", type_="check"
    )
    op.drop_column("webhook_endpoints", "signature_format")
