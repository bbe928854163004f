"""Erasure (GDPR art. 17) within AML law (AMLD art. 40). At once: every direct identifier
is replaced or deleted (name, email, login, phone, address, birth date, IPs, device ids,
second factors, personal values of audit entries) and the account is closed. Kept: KYC
records and transactions, for ``retention_years`` (>= 5) after the relationship ends;
``purge_retained`` (a background task) removes what the ledger does not need after that.

Ledger rows, balances and the audit tree are not touched: ``pms ledger verify`` and
``pms audit verify`` give the same answer before and after. Audit entries name the player
by id only, and that id now leads to the pseudonym, not to the person.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import personal
from app.core.db import Database
from app.core.errors import NotFound, ValidationFailed
from app.core.settings import Settings
from app.events import outbox
from app.gdpr.errors import ErasureBlocked
from app.gdpr.models import Erasure

MAX_REASON = 500
ERASED_BIRTH_DATE = date(1900, 1, 1)
UNUSABLE_PASSWORD = "!erased"  # noqa: S105  (no hasher accepts it: no password opens it)


@dataclass(frozen=True)
class ErasureResult:
    erasure: Erasure
    already_erased: bool


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValidationFailed.single("reason", f"1 to {MAX_REASON} characters")
    return reason


async def _blocking(session: AsyncSession, player_id: uuid.UUID) -> str | None:
    row = (
        await session.execute(
            text("SELECT count(*) FILTER (WHERE purpose = 'WITHDRAWAL') AS withdrawals, "
                 "count(*) AS holds FROM ledger_holds "
                 "WHERE player_id = :p AND status = 'PENDING'"), {"p": player_id}
        )
    ).one()  # fmt: skip
    if row.withdrawals:
        return f"{row.withdrawals} pending withdrawal(s) must be confirmed or rejected first"
    if row.holds:
        return f"{row.holds} open hold(s) must be settled or cancelled first"
    return None


# Direct identifiers, replaced in place (rows other tables and the ledger refer to stay).
PSEUDONYMISE = [
    """UPDATE players SET email = :pseudonym || '@erased.invalid', login = :pseudonym,
       password_hash = :unusable, birth_date = :birth, status = 'CLOSED',
       preferences = '{}'::jsonb, traffic_source = NULL, affiliate_code = NULL
       WHERE id = :p""",
    """UPDATE player_profiles SET first_name = NULL, last_name = NULL, phone = NULL,
       address_line1 = NULL, address_line2 = NULL, city = NULL, postal_code = NULL
       WHERE player_id = :p""",
    # the history of those fields holds the same values
    """UPDATE player_settings_changes SET old_value = NULL, new_value = NULL
       WHERE player_id = :p AND pii""",
    "DELETE FROM mfa_factors WHERE subject = :key",
    "DELETE FROM mfa_recovery_codes WHERE subject = :key",
    # hashed IPs and device ids of the anti-fraud matcher
    "DELETE FROM fraud_identifiers WHERE player_id = :p",
    # ... and in the events that carry them (so a consumer behind cannot bring them back)
    """UPDATE outbox_events SET data = data - 'ipHash' - 'deviceHash'
       WHERE subject = :text AND data ?| array['ipHash', 'deviceHash']""",
    "DELETE FROM player_tags WHERE player_id = :p",
    "DELETE FROM segment_members WHERE player_id = :p",
]


async def erase_player(
    session: AsyncSession, settings: Settings, player_id: uuid.UUID, reason: str, actor: str
) -> ErasureResult:
    """Erase one player; a second call answers the first erasure and changes nothing."""
    reason = _check_reason(reason)
    # NO KEY UPDATE: it orders erasure against profile writes and the telemetry (app/gdpr/
    # guard.py) but not against the foreign-key checks (KEY SHARE) of a money operation,
    # which holds the wallets this erasure waits for next (FOR UPDATE here deadlocked).
    found = await session.execute(
        text("SELECT id FROM players WHERE id = :p FOR NO KEY UPDATE"), {"p": player_id}
    )
    if found.first() is None:
        raise NotFound(f"player {player_id} not found")
    # The wallets too, in the ledger's lock order: a money operation under way commits
    # first, so the check below sees the hold it made.
    await session.execute(
        text("SELECT id FROM wallets WHERE player_id = :p ORDER BY id FOR UPDATE"),
        {"p": player_id},
    )
    done = await session.get(Erasure, player_id, populate_existing=True)
    if done is not None:
        return ErasureResult(done, already_erased=True)
    blocked = await _blocking(session, player_id)
    if blocked is not None:
        raise ErasureBlocked(blocked)
    pseudonym = f"erased-{secrets.token_hex(8)}"
    key = f"player:{player_id}"
    params = {"p": player_id, "key": key, "text": str(player_id), "pseudonym": pseudonym,
              "unusable": UNUSABLE_PASSWORD, "birth": ERASED_BIRTH_DATE}  # fmt: skip
    for statement in PSEUDONYMISE:
        names = [n for n in params if f":{n}" in statement]
        await session.execute(text(statement), {n: params[n] for n in names})
    await personal.erase_about(session, key, str(player_id))
    now = datetime.now(UTC)
    erasure = Erasure(
        player_id=player_id, pseudonym=pseudonym, reason=reason, erased_by=actor, erased_at=now,
        retain_until=_years_later(now, settings.retention_years),
    )  # fmt: skip
    session.add(erasure)
    await session.flush()
    await outbox.record(session, "player.erased", str(player_id),
                        {"playerId": str(player_id), "pseudonym": pseudonym})  # fmt: skip
    await session.refresh(erasure)
    return ErasureResult(erasure, already_erased=False)


# What AML law kept, removed after the retention: KYC records and the remaining personal
# history. Ledger transfers stay: balances are their sums, and the ledger's own retention
# (monthly partitions archived then dropped) removes them with everyone else's.
PURGE = [
    "DELETE FROM kyc_case_events WHERE player_id = :p",
    "DELETE FROM kyc_cases WHERE player_id = :p",
    "DELETE FROM player_settings_changes WHERE player_id = :p",
    "DELETE FROM player_consent_changes WHERE player_id = :p",
    "DELETE FROM player_consents WHERE player_id = :p",
    "DELETE FROM player_profiles WHERE player_id = :p",
    "DELETE FROM fraud_observations WHERE player_id = :p",
]

DUE = text("""
SELECT player_id FROM gdpr_erasures
WHERE purged_at IS NULL AND retain_until <= now()
ORDER BY retain_until LIMIT :n
FOR UPDATE SKIP LOCKED
""")


async def purge_retained(db: Database, settings: Settings, batch: int = 100) -> int:
    """Purge the retained records of erasures whose retention is over; each replica takes
    other rows (SKIP LOCKED), and a purged row is marked so it is never taken again."""
    async with db.transaction() as session:
        due = [r.player_id for r in await session.execute(DUE, {"n": batch})]
        for player_id in due:
            for statement in PURGE:
                await session.execute(text(statement), {"p": player_id})
            await session.execute(
                text("UPDATE gdpr_erasures SET purged_at = now() WHERE player_id = :p"),
                {"p": player_id},
            )
    return len(due)
