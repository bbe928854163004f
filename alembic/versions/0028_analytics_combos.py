"""analytics: segment facts keyed by the members' dimensions too, duration histogram values
long enough for a full dimension combination and an index for their period ranges
(combined filters read pre-aggregated rows)

Rows kept before this are keyed '' (no dimension): a segment alone still sums right, a
segment with another filter needs the rebuild (bench/README.md "combos").

Revision ID: 0028_analytics_combos
Revises: 0027_ledger_transfer_fk
Create Date: 2026-12-01 19:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0028_analytics_combos"
down_revision: str | None = "0027_ledger_transfer_fk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMS = (("country", 2), ("traffic_source", 64), ("affiliate_code", 64))
KEY = ["segment_id", "grain", "period", "currency"]
PK = "pk_analytics_segment_facts"
COMBOS = "ix_analytics_duration_buckets_combos"


def upgrade() -> None:
    for name, length in DIMS:
        op.add_column(
            "analytics_segment_facts",
            sa.Column(name, sa.String(length=length), server_default="", nullable=False),
        )
    op.drop_constraint(PK, "analytics_segment_facts", type_="primary")
    op.create_primary_key(PK, "analytics_segment_facts", KEY + [n for n, _ in DIMS])
    op.alter_column("analytics_duration_buckets", "value", type_=sa.String(length=200),
                    existing_type=sa.String(length=64), existing_nullable=False)  # fmt: skip
    op.create_index(COMBOS, "analytics_duration_buckets", ["grain", "dim", "period"],
                    postgresql_where=sa.text("dim IN ('combo', 'segment_combo')"))  # fmt: skip


def downgrade() -> None:
    op.drop_index(COMBOS, table_name="analytics_duration_buckets")
    op.execute("DELETE FROM analytics_duration_buckets WHERE dim IN ('combo', 'segment_combo')")
    op.alter_column("analytics_duration_buckets", "value", type_=sa.String(length=64),
                    existing_type=sa.String(length=200), existing_nullable=False)  # fmt: skip
    # the dimension rows of a segment summed back into one row per key
    columns = [c["name"] for c in sa.inspect(op.get_bind()).get_columns("analytics_segment_facts")]
    counters = [c for c in columns if c not in KEY and c not in dict(DIMS)]
    sums = ", ".join(f"sum({c}) AS {c}" for c in counters)
    op.execute(
        f"CREATE TEMP TABLE segment_facts_sum AS SELECT {', '.join(KEY)}, {sums} "  # noqa: S608
        f"FROM analytics_segment_facts GROUP BY {', '.join(KEY)}"
    )
    op.execute("DELETE FROM analytics_segment_facts")
    op.drop_constraint(PK, "analytics_segment_facts", type_="primary")
    for name, _ in DIMS:
        op.drop_column("analytics_segment_facts", name)
    op.create_primary_key(PK, "analytics_segment_facts", KEY)
    op.execute(
        f"INSERT INTO analytics_segment_facts ({', '.join(KEY + counters)}) "  # noqa: S608
        "SELECT * FROM segment_facts_sum"
    )
    op.execute("DROP TABLE segment_facts_sum")
