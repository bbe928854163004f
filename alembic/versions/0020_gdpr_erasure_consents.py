"""gdpr: erasure records, consent records with history, personal values of audit entries
kept beside the tree (hash-committed) so they can be erased without changing a leaf

Revision ID: 0020_gdpr_erasure_consents
Revises: 0019_retention_partitions
Create Date: 2026-12-01 12:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401

from alembic import op

revision: str = "0020_gdpr_erasure_consents"
down_revision: str | None = "0019_retention_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keys of ``details`` whose values are personal (the same list as app/audit/personal.py).
PERSONAL_DETAIL_KEYS = ("email", "login", "phone", "firstName", "lastName", "name",
                        "address", "birthDate", "ip", "deviceId", "identifier")  # fmt: skip

# Every new audit row: ip, user agent and personal detail values move to
# audit_personal_values (salt + value) and the row keeps 'sha256:' + base64url(SHA-256(salt
# || value)). The tree commits to the row, so deleting the value later leaves every leaf
# hash (and every checkpoint) as it was, while the commitment still binds the value.
COMMIT_FUNCTION = """
CREATE OR REPLACE FUNCTION pms_audit_commit(entry bigint, field text, value text)
RETURNS text AS $$
DECLARE
    salt bytea := decode(replace(gen_random_uuid()::text, '-', ''), 'hex');
BEGIN
    INSERT INTO audit_personal_values (entry_id, field, salt, value)
    VALUES (entry, field, salt, value);
    RETURN 'sha256:' || rtrim(translate(encode(sha256(salt || convert_to(value, 'UTF8')),
                                               'base64'), '+/', '-_'), '=');
END;
$$ LANGUAGE plpgsql
"""

SEPARATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION pms_audit_separate_personal() RETURNS trigger AS $$
DECLARE
    k text;
BEGIN
    IF NEW.ip IS NOT NULL THEN
        NEW.ip := pms_audit_commit(NEW.id, 'ip', NEW.ip);
    END IF;
    IF NEW.user_agent IS NOT NULL THEN
        NEW.user_agent := pms_audit_commit(NEW.id, 'user_agent', NEW.user_agent);
    END IF;
    FOREACH k IN ARRAY ARRAY{list(PERSONAL_DETAIL_KEYS)!r}::text[] LOOP
        IF jsonb_typeof(NEW.details -> k) = 'string' THEN
            NEW.details := jsonb_set(NEW.details, ARRAY[k],
                to_jsonb(pms_audit_commit(NEW.id, 'details.' || k, NEW.details ->> k)));
        END IF;
    END LOOP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "audit_personal_values",
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "field", name=op.f("pk_audit_personal_values")),
    )
    op.execute(COMMIT_FUNCTION)
    op.execute(SEPARATE_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_separate_personal BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION pms_audit_separate_personal()"
    )
    op.create_table(
        "gdpr_erasures",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("pseudonym", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("erased_by", sa.String(length=120), nullable=False),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"],
                                name=op.f("fk_gdpr_erasures_player_id_players")),
        sa.PrimaryKeyConstraint("player_id", name=op.f("pk_gdpr_erasures")),
    )  # fmt: skip
    op.create_index(
        "ix_gdpr_erasures_retain_until", "gdpr_erasures", ["retain_until"],
        postgresql_where=sa.text("purged_at IS NULL"),
    )  # fmt: skip
    op.create_table(
        "player_consents",
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], ondelete="CASCADE",
                                name=op.f("fk_player_consents_player_id_players")),
        sa.PrimaryKeyConstraint("player_id", "purpose", name=op.f("pk_player_consents")),
    )  # fmt: skip
    op.create_table(
        "player_consent_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("player_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.String(length=64), nullable=True),
        sa.Column("new_value", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], ondelete="CASCADE",
                                name=op.f("fk_player_consent_changes_player_id_players")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_player_consent_changes")),
    )  # fmt: skip
    op.create_index(
        "ix_player_consent_changes_player_id_id", "player_consent_changes", ["player_id", "id"]
    )
    # Consents given before this migration (the preferences JSON) become records.
    op.execute("""
        INSERT INTO player_consents (player_id, purpose, value)
        SELECT p.id, 'marketing.' || c.key, CASE WHEN c.value = 'true'::jsonb
               THEN 'granted' ELSE 'withdrawn' END
        FROM players p, jsonb_each(p.preferences -> 'marketingConsents') c
        WHERE jsonb_typeof(p.preferences -> 'marketingConsents') = 'object'
          AND c.key IN ('email', 'sms', 'push', 'phone')
    """)
    op.execute("""
        INSERT INTO player_consent_changes (player_id, purpose, old_value, new_value, actor,
                                            source)
        SELECT player_id, purpose, NULL, value, 'system:migration', 'migration'
        FROM player_consents
    """)


def downgrade() -> None:
    op.drop_index("ix_player_consent_changes_player_id_id", table_name="player_consent_changes")
    op.drop_table("player_consent_changes")
    op.drop_table("player_consents")
    op.drop_index("ix_gdpr_erasures_retain_until", table_name="gdpr_erasures")
    op.drop_table("gdpr_erasures")
    op.execute("DROP TRIGGER IF EXISTS audit_log_separate_personal ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS pms_audit_separate_personal()")
    op.execute("DROP FUNCTION IF EXISTS pms_audit_commit(bigint, text, text)")
    op.drop_table("audit_personal_values")
