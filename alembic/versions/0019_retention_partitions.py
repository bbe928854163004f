"""retention-partitions: ``audit_log`` and ``ledger_transfers`` range-partitioned by month
on their timestamp (partitions in schema ``pms_partitions``, a default partition as a
safety net), the archive records of the retention purge and the ledger's carried-forward
totals of archived months.

The primary keys become (id, timestamp): PostgreSQL requires a partitioned table's
unique constraints to contain the partition key. ``id`` stays unique in practice because
only its identity sequence assigns it (nothing inserts explicit ids) and every reader looks
rows up by id alone through the same indexes.

Existing rows are copied (ids kept, the identity sequence continued); indexes, checks,
foreign keys, append-only triggers and the INSERT/SELECT-only grants of ``pms_app`` are
made again on the partitioned tables.

Revision ID: 0019_retention_partitions
Revises: 0014_observability_analytics
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0019_retention_partitions"
down_revision: str | None = "0018_crm_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "pms_partitions"
AHEAD_MONTHS = 3


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    indexes: tuple[tuple[str, str], ...]
    foreign_keys: tuple[str, ...] = ()


TABLES = (
    Table(
        "audit_log",
        "occurred_at",
        (("ix_audit_log_actor_id", "actor, id"), ("ix_audit_log_target_id", "target, id"),
         ("ix_audit_log_occurred_at", "occurred_at")),
    ),
    Table(
        "ledger_transfers",
        "created_at",
        (("ix_ledger_transfers_wallet_id_id", "wallet_id, id"),
         ("ix_ledger_transfers_player_id_id", "player_id, id"),
         ("ix_ledger_transfers_operation_id", "operation_id")),
        ("CONSTRAINT fk_ledger_transfers_player_id_players FOREIGN KEY (player_id) "
         "REFERENCES players (id) ON DELETE RESTRICT",
         "CONSTRAINT fk_ledger_transfers_wallet_id_wallets FOREIGN KEY (wallet_id) "
         "REFERENCES wallets (id) ON DELETE RESTRICT"),
    ),
)  # fmt: skip


def _months(first: date, last: date) -> list[date]:
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = _next(month)
    return out


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _convert(table: Table, partitioned: bool) -> None:
    """Rebuild ``table`` as partitioned (or back as a plain table), keeping every row."""
    old = f"{table.name}_old"
    op.execute(f"ALTER TABLE {table.name} RENAME TO {old}")
    op.execute(f"ALTER SEQUENCE {table.name}_id_seq RENAME TO {old}_id_seq")
    tail = f" PARTITION BY RANGE ({table.key})" if partitioned else ""
    op.execute(
        f"CREATE TABLE {table.name} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        f"INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS){tail}"
    )
    if partitioned:
        found = sa.text(f"SELECT min({table.key}) FROM {old}")  # noqa: S608  (constants)
        bounds = op.get_bind().execute(found).scalar()
        today = datetime.now(UTC).date()
        first = bounds.astimezone(UTC).date() if bounds is not None else today
        last = today.replace(day=1)
        for _ in range(AHEAD_MONTHS):
            last = _next(last)
        for month in _months(first, last):
            op.execute(
                f"CREATE TABLE {SCHEMA}.{table.name}_p{month:%Y_%m} PARTITION OF {table.name} "
                f"FOR VALUES FROM ('{month.isoformat()} 00:00:00+00') "
                f"TO ('{_next(month).isoformat()} 00:00:00+00')"
            )
        op.execute(f"CREATE TABLE {SCHEMA}.{table.name}_default PARTITION OF {table.name} DEFAULT")
    op.execute(f"INSERT INTO {table.name} SELECT * FROM {old}")  # noqa: S608  (constants)
    op.execute(
        f"SELECT setval('{table.name}_id_seq', greatest((SELECT last_value FROM "  # noqa: S608
        f"{old}_id_seq), 1), (SELECT is_called FROM {old}_id_seq))"
    )
    op.execute(f"DROP TABLE {old}")
    key = f"id, {table.key}" if partitioned else "id"
    op.execute(f"ALTER TABLE {table.name} ADD CONSTRAINT pk_{table.name} PRIMARY KEY ({key})")
    for name, columns in table.indexes:
        op.execute(f"CREATE INDEX {name} ON {table.name} ({columns})")
    for fk in table.foreign_keys:
        op.execute(f"ALTER TABLE {table.name} ADD {fk}")
    op.execute(
        f"CREATE TRIGGER {table.name}_append_only BEFORE UPDATE OR DELETE ON {table.name} "
        "FOR EACH ROW EXECUTE FUNCTION pms_append_only()"
    )
    op.execute(
        f"CREATE TRIGGER {table.name}_no_truncate BEFORE TRUNCATE ON {table.name} "
        "FOR EACH STATEMENT EXECUTE FUNCTION pms_append_only()"
    )
    op.execute(f"REVOKE ALL ON {table.name} FROM pms_app")
    op.execute(f"GRANT SELECT, INSERT ON {table.name} TO pms_app")


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table in TABLES:
        _convert(table, partitioned=True)
    op.create_table(
        "retention_archives",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("directory", sa.String(length=1000), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("audit_rows", sa.BigInteger(), nullable=False),
        sa.Column("ledger_rows", sa.BigInteger(), nullable=False),
        sa.Column("tree_from", sa.BigInteger(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("tree_root", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column(
            "archived_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_archives")),
        sa.UniqueConstraint("month", name=op.f("uq_retention_archives_month")),
    )  # fmt: skip
    op.create_table(
        "ledger_carry_forward",
        sa.Column("wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("house_account", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("transfers", sa.BigInteger(), nullable=False),
        sa.Column("through", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_ledger_carry_forward_wallet_id_wallets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "wallet_id", "house_account", name=op.f("pk_ledger_carry_forward")
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("ledger_carry_forward")
    op.drop_table("retention_archives")
    for table in TABLES:
        _convert(table, partitioned=False)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
