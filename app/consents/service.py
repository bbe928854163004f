"""Consent rules. Every change writes the new value, a history row (who, when, source,
old -> new) and a ``player.consent_changed`` event in the caller's transaction; setting a
value a player already has writes nothing. Services never commit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.consents.models import ConsentChange, PlayerConsent
from app.core.db import mark_changed
from app.core.errors import NotFound, ValidationFailed
from app.core.settings import Settings
from app.events import outbox
from app.players.hooks import player_attributes_changed, players_attributes_changed
from app.players.models import Player

CHANNELS = ("email", "sms", "push", "phone")
GRANTED = "granted"
WITHDRAWN = "withdrawn"
TERMS = "terms"
SOURCES = ("self-service", "staff", "service", "import", "preferences", "migration")
TERMS_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")


def marketing_purpose(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValidationFailed.single("channel", f"must be one of {', '.join(CHANNELS)}")
    return f"marketing.{channel}"


def marketing_consents_sql(player_id: str) -> str:
    """THE rule marketing reads (CRM export, segments): a JSON object channel -> true for
    every channel the player has granted, as a correlated SQL subquery on ``player_id``."""
    return (
        "(SELECT coalesce(jsonb_object_agg(substr(c.purpose, 11), true), '{}'::jsonb) "  # noqa: S608
        "FROM player_consents c WHERE c.player_id = "
        f"{player_id} AND c.purpose LIKE 'marketing.%' AND c.value = 'granted')"
    )


def granted_any(player_id: ColumnElement[Any], channels: Sequence[str]) -> ColumnElement[bool]:
    """The same rule as a SQLAlchemy condition (segment rules): the player granted
    marketing through one of ``channels``."""
    c = PlayerConsent.__table__.c  # type: ignore[attr-defined]
    purposes = [marketing_purpose(ch) for ch in channels]
    return exists(
        select(c.purpose).where(
            c.player_id == player_id, c.purpose.in_(purposes), c.value == GRANTED
        )
    )


@dataclass(frozen=True)
class ConsentState:
    player_id: uuid.UUID
    marketing: dict[str, tuple[bool, datetime | None]]  # channel -> (granted, since)
    terms_version: str | None
    terms_accepted_at: datetime | None


async def _require_player(session: AsyncSession, player_id: uuid.UUID) -> None:
    found = await session.scalar(select(col(Player.id)).where(col(Player.id) == player_id))
    if found is None:
        raise NotFound("no such player")


async def state(session: AsyncSession, player_id: uuid.UUID) -> ConsentState:
    await _require_player(session, player_id)
    rows = (
        await session.execute(
            select(PlayerConsent).where(col(PlayerConsent.player_id) == player_id)
        )
    ).scalars()
    current = {r.purpose: r for r in rows}
    marketing = {}
    for channel in CHANNELS:
        row = current.get(f"marketing.{channel}")
        marketing[channel] = (row is not None and row.value == GRANTED,
                              row.updated_at if row else None)  # fmt: skip
    terms = current.get(TERMS)
    return ConsentState(player_id, marketing, terms.value if terms else None,
                        terms.updated_at if terms else None)  # fmt: skip


async def history(
    session: AsyncSession, player_id: uuid.UUID, limit: int = 100
) -> Sequence[ConsentChange]:
    """Newest first."""
    await _require_player(session, player_id)
    stmt = (
        select(ConsentChange)
        .where(col(ConsentChange.player_id) == player_id)
        .order_by(col(ConsentChange.id).desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def _change(
    session: AsyncSession, player_id: uuid.UUID, purpose: str, value: str, actor: str,
    source: str,
) -> bool:  # fmt: skip
    """Write ``value`` for ``purpose``; False (nothing written) when it is already so."""
    # One change at a time per player: the history's old values chain. NO KEY UPDATE, the
    # lock the preferences UPDATE takes anyway: a bet's foreign-key checks do not wait.
    await session.execute(
        text("SELECT 1 FROM players WHERE id = :p FOR NO KEY UPDATE"), {"p": player_id}
    )
    old = await session.scalar(
        select(col(PlayerConsent.value)).where(
            col(PlayerConsent.player_id) == player_id, col(PlayerConsent.purpose) == purpose
        )
    )
    if old == value:
        return False
    await session.execute(
        insert(PlayerConsent)
        .values(player_id=player_id, purpose=purpose, value=value)
        .on_conflict_do_update(
            index_elements=["player_id", "purpose"], set_={"value": value, "updated_at": func.now()}
        )
    )
    session.add(ConsentChange(player_id=player_id, purpose=purpose, old_value=old,
                              new_value=value, actor=actor, source=source))  # fmt: skip
    await session.flush()
    await outbox.record(
        session, "player.consent_changed", str(player_id),
        {"playerId": str(player_id), "purpose": purpose, "value": value, "source": source},
    )  # fmt: skip
    return True


async def set_marketing(
    session: AsyncSession, player_id: uuid.UUID, channel: str, granted: bool, *, actor: str,
    source: str, settings: Settings,
) -> bool:  # fmt: skip
    """Grant or withdraw marketing through ``channel``; True when it changed (then the
    player's segments are re-evaluated: rules may use ``marketingConsent``)."""
    purpose = marketing_purpose(channel)
    await _require_player(session, player_id)
    changed = await _change(session, player_id, purpose, GRANTED if granted else WITHDRAWN,
                            actor, source)  # fmt: skip
    if changed:  # the preferences JSON mirrors the record (Player.preferences shows it)
        await session.execute(
            text(
                "UPDATE players SET preferences = jsonb_set(CASE WHEN jsonb_typeof("
                "preferences->'marketingConsents') = 'object' THEN preferences ELSE "
                "preferences || '{\"marketingConsents\": {}}'::jsonb END, "
                "ARRAY['marketingConsents', :ch], to_jsonb(CAST(:g AS boolean))) WHERE id = :p"
            ),
            {"ch": channel, "g": granted, "p": player_id},
        )
        await player_attributes_changed(session, player_id, ["marketingConsent"], settings)
    return changed


# Many marketing choices in ONE statement (imports): the same rule as ``_change`` and
# ``set_marketing`` per (player, purpose): only differing values are written, each with its
# history row and event, and the preferences JSON mirrors the records.
_SET_MARKETING_MANY = """
WITH wanted AS (
    SELECT * FROM unnest(CAST(:players AS uuid[]), CAST(:purposes AS text[]),
                         CAST(:values AS text[])) AS w(player_id, purpose, value)
),
changed AS (
    SELECT w.player_id, w.purpose, w.value, c.value AS old_value
    FROM wanted w LEFT JOIN player_consents c USING (player_id, purpose)
    WHERE c.value IS DISTINCT FROM w.value
),
upserted AS (
    INSERT INTO player_consents (player_id, purpose, value)
    SELECT player_id, purpose, value FROM changed
    ON CONFLICT (player_id, purpose) DO UPDATE SET value = excluded.value, updated_at = now()
),
history AS (
    INSERT INTO player_consent_changes (player_id, purpose, old_value, new_value, actor, source)
    SELECT player_id, purpose, old_value, value, :actor, :source FROM changed
    ORDER BY player_id, purpose
),
events AS (
    INSERT INTO outbox_events (event_id, type, source, subject, data)
    SELECT gen_random_uuid(), 'player.consent_changed', :event_source, player_id::text,
           jsonb_build_object('playerId', player_id::text, 'purpose', purpose,
                              'value', value, 'source', :source)
    FROM changed ORDER BY player_id, purpose
),
mirrored AS (
    UPDATE players p SET preferences = jsonb_set(
        CASE WHEN jsonb_typeof(p.preferences->'marketingConsents') = 'object' THEN p.preferences
             ELSE p.preferences || '{"marketingConsents": {}}'::jsonb END,
        ARRAY['marketingConsents'],
        CASE WHEN jsonb_typeof(p.preferences->'marketingConsents') = 'object'
             THEN p.preferences->'marketingConsents' ELSE '{}'::jsonb END || m.channels)
    FROM (SELECT player_id, jsonb_object_agg(substr(purpose, 11), value = 'granted') AS channels
          FROM changed WHERE purpose LIKE 'marketing.%' GROUP BY player_id) m
    WHERE p.id = m.player_id
)
SELECT DISTINCT player_id FROM changed
"""


async def set_marketing_many(
    session: AsyncSession, choices: Sequence[tuple[uuid.UUID, str, bool]], *, actor: str,
    source: str, settings: Settings,
) -> set[uuid.UUID]:  # fmt: skip
    """``set_marketing`` for many (player, channel, granted) at once, one statement; the
    players whose consents changed (their segments are re-evaluated in one pass)."""
    if not choices:
        return set()
    players = sorted({p for p, _, _ in choices})
    await session.execute(
        text(
            "SELECT 1 FROM players WHERE id = ANY(CAST(:p AS uuid[])) ORDER BY id FOR NO KEY UPDATE"
        ),
        {"p": players},
    )  # as in _change: one change at a time per player (ordered: no deadlock)
    rows = await session.execute(text(_SET_MARKETING_MANY), {
        "players": [p for p, _, _ in choices],
        "purposes": [marketing_purpose(c) for _, c, _ in choices],
        "values": [GRANTED if g else WITHDRAWN for _, _, g in choices],
        "actor": actor, "source": source, "event_source": outbox.SOURCE,
    })  # fmt: skip
    changed = set(rows.scalars())
    for player_id in changed:
        mark_changed(session, str(player_id))
    await players_attributes_changed(session, sorted(changed), ["marketingConsent"], settings)
    return changed


async def accept_terms(
    session: AsyncSession, player_id: uuid.UUID, version: str, *, actor: str, source: str
) -> bool:
    if not TERMS_VERSION.match(version):
        raise ValidationFailed.single("version", "a terms version such as 2026-12 or v3.1")
    await _require_player(session, player_id)
    return await _change(session, player_id, TERMS, version, actor, source)


def source_of(principal_kind: str) -> str:
    return {"player": "self-service", "staff": "staff", "service": "service"}.get(
        principal_kind, "staff"
    )
