"""analytics: the cohort table of each segment's current members (analytics_segment_cohorts,
per registration month, activity month, currency and the members' dimensions), backfilled
here from analytics_segment_members, analytics_players and analytics_player_days: no
rebuild needed after this one. A cohort table by segment reads it instead of grouping the
members' player-days.

Revision ID: 0031_segment_cohorts
Revises: 0030_analytics_funnel
Create Date: 2026-12-02 01:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0031_segment_cohorts"
down_revision: str | None = "0030_analytics_funnel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "analytics_segment_cohorts"
COUNTERS = ("registrations", "active", "stakes", "wins", "bonus_cost", "player_days")

# What app/analytics/repository.py (_COHORT_HISTORY) adds for a member entering a segment,
# for every current member at once; the consumer keeps it from here on.
BACKFILL = """
WITH x AS (SELECT m.segment_id, p.player_id,
                  date_trunc('month', p.registered_on::timestamp)::date AS reg_month,
                  p.country, coalesce(p.traffic_source, '') AS traffic_source,
                  coalesce(p.affiliate_code, '') AS affiliate_code
           FROM analytics_segment_members m
           JOIN analytics_players p ON p.player_id = m.player_id),
pm AS (
  SELECT x.segment_id, x.player_id, x.reg_month,
         date_trunc('month', d.day::timestamp)::date AS period, d.currency, x.country,
         x.traffic_source, x.affiliate_code, bool_or(d.bets_count > 0) AS active,
         sum(d.stakes_minor) AS stakes, sum(d.wins_minor) AS wins,
         sum(d.bonus_cost_minor) AS bonus_cost, count(*) AS player_days
  FROM x JOIN analytics_player_days d ON d.player_id = x.player_id
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8),
h AS (
  SELECT segment_id, reg_month, period, currency, country, traffic_source, affiliate_code,
         0::bigint AS registrations, active::int::bigint AS active, stakes, wins, bonus_cost,
         player_days
  FROM pm
  UNION ALL
  SELECT segment_id, reg_month, period, '', country, traffic_source, affiliate_code, 0,
         bool_or(active)::int, 0, 0, 0, 0
  FROM pm GROUP BY segment_id, player_id, reg_month, period, country, traffic_source,
                   affiliate_code
  UNION ALL
  SELECT segment_id, reg_month, reg_month, '', country, traffic_source, affiliate_code, 1,
         0, 0, 0, 0, 0
  FROM x)
INSERT INTO analytics_segment_cohorts (segment_id, reg_month, period, currency, country,
    traffic_source, affiliate_code, registrations, active, stakes, wins, bonus_cost,
    player_days)
SELECT segment_id, reg_month, period, currency, country, traffic_source, affiliate_code,
       sum(registrations), sum(active), sum(stakes), sum(wins), sum(bonus_cost),
       sum(player_days)
FROM h GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("reg_month", sa.Date(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("traffic_source", sa.String(length=64), nullable=False),
        sa.Column("affiliate_code", sa.String(length=64), nullable=False),
        *(sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in COUNTERS),
        sa.PrimaryKeyConstraint(
            "segment_id", "reg_month", "period", "currency", "country", "traffic_source",
            "affiliate_code", name=op.f("pk_analytics_segment_cohorts"),
        ),
    )  # fmt: skip
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table(TABLE)
