"""compliance-audit: PCI DSS 10.2 fields on audit_log, the audit Merkle tree (leaves,
nodes, maintainer state), checkpoint signing keys and signed checkpoints; append-only
triggers on audit_log, ledger_transfers and the tree (lifted only by the retention job's
session setting ``pms.retention_job = on``); the INSERT/SELECT-only grants of ``pms_app``.

Revision ID: 0013_compliance_audit
Revises: 0012_ops_settings
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013_compliance_audit"
down_revision: str | None = "0012_ops_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_log", "ledger_transfers", "audit_leaves", "audit_tree_nodes",
               "audit_checkpoints")  # fmt: skip

# Even the table owner (and a superuser without the switch) is refused; only a session
# that sets pms.retention_job = 'on' (the retention purge, test cleanup) may change rows.
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION pms_append_only() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('pms.retention_job', true), '') = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

# The role the application logs in as (operators: GRANT pms_app TO <login user>). It
# may read and insert the append-only tables, never update, delete or truncate them.
APP_ROLE = """
DO $$
BEGIN
    CREATE ROLE pms_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$
"""


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("principal_kind", sa.String(length=16), nullable=True))
    op.add_column("audit_log", sa.Column("user_agent", sa.String(length=256), nullable=True))
    op.create_table(
        "audit_leaves",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "sequenced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_audit_leaves_entry_id")),
    )  # fmt: skip
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_tree_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("time_floor", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_state")),
    )
    op.execute(
        "INSERT INTO audit_tree_state (id, size, time_floor) VALUES (1, 0, '1970-01-01 00:00:00+00')"
    )
    op.create_table(
        "audit_signing_keys",
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_audit_signing_keys")),
    )  # fmt: skip
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_audit_checkpoints_tree_size")),
    )
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute(APPEND_ONLY_FUNCTION)
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION pms_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pms_append_only()"
        )
    op.execute(APP_ROLE)
    op.execute("GRANT USAGE ON SCHEMA public TO pms_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO pms_app")
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO pms_app")
    # Tables of later migrations (made by the migrating role) get the same grants.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pms_app"
    )
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO pms_app"
    )
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {', '.join(APPEND_ONLY)} FROM pms_app")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON {', '.join(APPEND_ONLY)} FROM pms_app")
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS pms_append_only()")
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION pms_audit_log_append_only()"
    )
    for table in ("audit_checkpoints", "audit_signing_keys", "audit_tree_state",
                  "audit_tree_nodes", "audit_leaves"):  # fmt: skip
        op.drop_table(table)
    op.drop_column("audit_log", "user_agent")
    op.drop_column("audit_log", "principal_kind")
