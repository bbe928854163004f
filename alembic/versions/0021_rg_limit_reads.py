"""responsible gambling: the money path reads a player's limits without locking them

Revision ID: 0021_rg_limit_reads
Revises: 0020_gdpr_erasure_consents
Create Date: 2026-12-01 15:10:00+00:00

``pms_rg_limits(player)`` replaces LOAD's ``SELECT ... FOR UPDATE`` of the player's limit
rows (app/responsible/extension.py). It is VOLATILE on purpose: in READ COMMITTED a
volatile function takes a fresh snapshot for each query it runs, so, called after LOAD has
locked the player's wallets, it sees the counters every earlier holder of those locks
committed, which is all FOR UPDATE was there for (every writer of gambling_limits holds
the player's wallet locks). No schema change: the counters stay in the limit rows.

Fillfactor 50 on ``gambling_limits``: a bet updates up to four of a player's rows; with
room on their page the updates are HOT (no new index entries). Existing full pages get
the room as their rows move on their next non-HOT update.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_rg_limit_reads"
down_revision: str | None = "0020_gdpr_erasure_consents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Parallel arrays (asyncpg decodes them natively: no JSON, exact timestamps), all from one
# aggregation pass so their orders agree; the live sign-in session's start only for a
# player with a SESSION limit. One query: one snapshot, one executor run.
LIMITS_FUNCTION = """
CREATE OR REPLACE FUNCTION pms_rg_limits(
    player uuid,
    OUT ids bigint[], OUT kinds text[], OUT periods text[], OUT currencies text[],
    OUT amounts bigint[], OUT used bigint[], OUT window_starts timestamptz[],
    OUT last_activity timestamptz[], OUT session_start timestamptz
) VOLATILE AS $$
BEGIN
    SELECT array_agg(g.id), array_agg(g.kind), array_agg(g.period), array_agg(g.currency),
           array_agg(g.amount), array_agg(g.used), array_agg(g.window_start),
           array_agg(g.last_activity_at),
           CASE WHEN bool_or(g.kind = 'SESSION') THEN
               (SELECT ps.started_at FROM play_sessions ps
                WHERE ps.player_id = player AND ps.ended_at IS NULL AND ps.expires_at > now()
                ORDER BY ps.id DESC LIMIT 1) END
    INTO ids, kinds, periods, currencies, amounts, used, window_starts, last_activity,
         session_start
    FROM gambling_limits g WHERE g.player_id = player;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.execute(LIMITS_FUNCTION)
    op.execute("ALTER TABLE gambling_limits SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE gambling_limits RESET (fillfactor)")
    op.execute("DROP FUNCTION IF EXISTS pms_rg_limits(uuid)")
