"""analytics: the funnel of each segment's current members (analytics_segment_funnel, per
registration day and the members' dimensions), backfilled here from
analytics_segment_members and analytics_players: no rebuild needed after this one. A
funnel by segment reads it instead of counting the members' player rows.

Revision ID: 0032_segment_funnel
Revises: 0031_segment_cohorts
Create Date: 2026-12-02 01:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0032_segment_funnel"
down_revision: str | None = "0031_segment_cohorts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_segment_funnel"
COUNTERS = ("registered", "kyc_verified", "first_deposit", "first_bet")

# What app/analytics/repository.py (_FUNNEL_HISTORY) adds for a member entering a segment,
# for every current member at once; the consumer keeps it from here on.
BACKFILL = """
INSERT INTO analytics_segment_funnel (segment_id, registered_on, country, traffic_source,
    affiliate_code, registered, kyc_verified, first_deposit, first_bet)
SELECT m.segment_id, p.registered_on, p.country, coalesce(p.traffic_source, ''),
       coalesce(p.affiliate_code, ''), count(*),
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED'),
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED' AND p.first_deposit_at IS NOT NULL),
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED' AND p.first_deposit_at IS NOT NULL
                        AND p.first_bet_at IS NOT NULL)
FROM analytics_segment_members m JOIN analytics_players p ON p.player_id = m.player_id
GROUP BY 1, 2, 3, 4, 5
"""


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("traffic_source", sa.String(length=64), nullable=False),
        sa.Column("affiliate_code", sa.String(length=64), nullable=False),
        *(sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in COUNTERS),
        sa.PrimaryKeyConstraint(
            "segment_id", "registered_on", "country", "traffic_source", "affiliate_code",
            name=op.f("pk_analytics_segment_funnel"),
        ),
    )  # fmt: skip
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table(TABLE)
