"""analytics: funnel facts per registration day and player dimensions (backfilled here from
analytics_players), and the parts of a duration histogram's combination value as generated
columns with covering indexes (PostgreSQL fills them for the existing rows): no rebuild
needed after this one.

Revision ID: 0030_analytics_funnel
Revises: 0029_hold_indexes
Create Date: 2026-12-01 21:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0030_analytics_funnel"
down_revision: str | None = "0029_hold_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ("registered_on", "country", "traffic_source", "affiliate_code")
BUCKETS = "analytics_duration_buckets"
COMBOS = "ix_analytics_duration_buckets_combos"
AFFILIATES = "ix_analytics_duration_buckets_combo_affiliates"
COMBO_ROWS = sa.text("dim IN ('combo', 'segment_combo')")
# column: its part of a 'segment_combo' value, of a 'combo' one (0: none)
PARTS = {"segment": (1, 0), "country": (2, 1), "traffic_source": (3, 2),
         "affiliate_code": (4, 3)}  # fmt: skip


def _part_sql(in_segment_combo: int, in_combo: int) -> str:
    combo = f"split_part(value, chr(31), {in_combo})" if in_combo else "''"
    return (f"CASE dim WHEN 'segment_combo' THEN split_part(value, chr(31), {in_segment_combo}) "
            f"WHEN 'combo' THEN {combo} ELSE '' END")  # fmt: skip


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "analytics_funnel_facts",
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("traffic_source", sa.String(length=64), nullable=False),
        sa.Column("affiliate_code", sa.String(length=64), nullable=False),
        *(_counter(n) for n in ("registered", "kyc_verified", "first_deposit", "first_bet")),
        sa.PrimaryKeyConstraint(*KEY, name="pk_analytics_funnel_facts"),
    )
    # the same figures app/analytics/facts.py keeps event by event
    op.execute(
        "INSERT INTO analytics_funnel_facts SELECT registered_on, country, "
        "coalesce(traffic_source, ''), coalesce(affiliate_code, ''), count(*), "
        "count(*) FILTER (WHERE kyc_outcome = 'VERIFIED'), "
        "count(*) FILTER (WHERE kyc_outcome = 'VERIFIED' AND first_deposit_at IS NOT NULL), "
        "count(*) FILTER (WHERE kyc_outcome = 'VERIFIED' AND first_deposit_at IS NOT NULL "
        "AND first_bet_at IS NOT NULL) FROM analytics_players GROUP BY 1, 2, 3, 4"
    )
    for name, (in_segment_combo, in_combo) in PARTS.items():
        op.add_column(BUCKETS, sa.Column(name, sa.String(), sa.Computed(
            _part_sql(in_segment_combo, in_combo), persisted=True)))  # fmt: skip
    op.drop_index(COMBOS, table_name=BUCKETS)
    op.create_index(COMBOS, BUCKETS,
                    ["grain", "dim", "segment", "country", "traffic_source", "period"],
                    postgresql_include=["affiliate_code", "metric", "bucket", "count"],
                    postgresql_where=COMBO_ROWS)  # fmt: skip
    op.create_index(AFFILIATES, BUCKETS, ["grain", "dim", "affiliate_code", "period"],
                    postgresql_include=["segment", "country", "traffic_source", "metric",
                                        "bucket", "count"],
                    postgresql_where=COMBO_ROWS)  # fmt: skip


def downgrade() -> None:
    op.drop_index(AFFILIATES, table_name=BUCKETS)
    op.drop_index(COMBOS, table_name=BUCKETS)
    for name in PARTS:
        op.drop_column(BUCKETS, name)
    op.create_index(COMBOS, BUCKETS, ["grain", "dim", "period"], postgresql_where=COMBO_ROWS)
    op.drop_table("analytics_funnel_facts")
