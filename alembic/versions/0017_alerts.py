"""alerts: rule versions, rule states, alerts and their history, per-minute counters

Revision ID: 0017_alerts
Revises: 0014_observability_analytics
Create Date: 2026-12-01 12:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401

from alembic import op

revision: str = "0017_alerts"
down_revision: str | None = "0016_rg_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("baseline_seconds", sa.Integer(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("clear_threshold", sa.Float(), nullable=False),
        sa.Column("for_evaluations", sa.Integer(), nullable=False),
        sa.Column("min_samples", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.CheckConstraint(
            "kind IN ('FAILURE_RATE', 'DEPOSIT_SWING', 'REVERSAL_SPIKE', 'OUTBOX_LAG')",
            name=op.f("ck_alert_rules_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_alert_rules_key_version")),
    )
    op.create_table(
        "alert_rule_states",
        sa.Column("rule_key", sa.String(length=64), nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.Column("recoveries", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("rule_key", name=op.f("pk_alert_rule_states")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("rule_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=160), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=160), nullable=True),
        sa.CheckConstraint(
            "status IN ('FIRING', 'ACKNOWLEDGED', 'RESOLVED')", name=op.f("ck_alerts_status")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alert_rules.id"], name=op.f("fk_alerts_rule_id_alert_rules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "ix_alerts_open",
        "alerts",
        ["rule_key"],
        unique=False,
        postgresql_where=sa.text("status IN ('FIRING', 'ACKNOWLEDGED')"),
    )
    op.create_index("ix_alerts_fired_at", "alerts", ["fired_at"], unique=False)
    op.create_table(
        "alert_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.CheckConstraint(
            "action IN ('FIRED', 'ACKNOWLEDGED', 'CLEARED', 'RESOLVED')",
            name=op.f("ck_alert_history_action"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_history_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_history")),
    )  # fmt: skip
    op.create_index(
        "ix_alert_history_alert_id_id", "alert_history", ["alert_id", "id"], unique=False
    )
    op.create_table(
        "alert_counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "bucket", name=op.f("pk_alert_counters")),
    )


def downgrade() -> None:
    op.drop_table("alert_counters")
    op.drop_index("ix_alert_history_alert_id_id", table_name="alert_history")
    op.drop_table("alert_history")
    op.drop_index("ix_alerts_fired_at", table_name="alerts")
    op.drop_index("ix_alerts_open", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("alert_rule_states")
    op.drop_table("alert_rules")
