"""Profile rules: personal data, preferences, VIP status and tags, each change recorded in
the settings history (who, when, field, old -> new), each announced as
``player_attributes_changed`` (segments listen). Services never commit."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.consents import service as consents
from app.core.errors import NotFound, ValidationFailed
from app.core.settings import Settings
from app.events import outbox
from app.gdpr.guard import is_erased
from app.players.hooks import player_attributes_changed, players_attributes_changed
from app.players.models import Player
from app.players.validation import CUSTOM_TAG
from app.profiles import repository
from app.profiles.models import PlayerProfile, SettingsChange
from app.profiles.validation import (
    PROFILE_FIELDS,
    Channels,
    ProfileUpdate,
    flatten,
    merged_preferences,
    preference_problems,
    profile_problems,
)

MAX_VIP_LEVEL = 10
MAX_TAGS = 20


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(value)


async def _player(session: AsyncSession, player_id: uuid.UUID) -> Player:
    player = await repository.lock_player(session, player_id)
    if player is None:
        raise NotFound("no such player")
    if await is_erased(session, player_id, lock=False):
        raise NotFound("the player was erased")  # no personal value is written again
    return player


def _history(
    player_id: uuid.UUID, actor: str, field: str, old: Any, new: Any, pii: bool
) -> SettingsChange:
    return SettingsChange(
        player_id=player_id, actor=actor, field=field,
        old_value=_text(old), new_value=_text(new), pii=pii,
    )  # fmt: skip


async def get_profile(session: AsyncSession, player_id: uuid.UUID) -> PlayerProfile | None:
    return await repository.get_profile(session, player_id)


async def update_profile(
    session: AsyncSession,
    player_id: uuid.UUID,
    update: ProfileUpdate,
    *,
    actor: str,
    settings: Settings,
    today: date | None = None,
) -> tuple[Player, PlayerProfile, list[str]]:
    """Apply a partial profile update; returns the changed field names."""
    player = await _player(session, player_id)
    problems = profile_problems(update, player.country, settings, today or datetime.now(UTC).date())
    if problems:
        raise ValidationFailed(problems)
    profile = await repository.lock_profile(session, player_id)
    if profile is None:
        profile = PlayerProfile(player_id=player_id)
        session.add(profile)
    changed: list[str] = []
    for name, value in update.given().items():
        if isinstance(value, str):
            value = value.strip()
        target, column = (player, "birth_date") if name == "birthDate" else (
            profile, PROFILE_FIELDS[name][0]
        )  # fmt: skip
        old = getattr(target, column)
        if old == value:
            continue
        setattr(target, column, value)
        session.add(_history(player_id, actor, name, old, value, pii=True))
        changed.append(name)
    await session.flush()
    if changed:
        # Field names only: personal values never travel in events.
        await outbox.record(
            session, "player.profile_updated", str(player_id),
            {"playerId": str(player_id), "fields": changed, "actor": actor},
        )  # fmt: skip
        await player_attributes_changed(session, player_id, changed, settings)
    return player, profile, changed


async def update_preferences(
    session: AsyncSession,
    player_id: uuid.UUID,
    patch: dict[str, Any],
    *,
    actor: str,
    settings: Settings,
) -> tuple[Player, list[str]]:
    """Merge ``patch`` into the validated preferences; returns the changed paths.
    Marketing consents go to the consent records (app/consents), which mirror them here."""
    player = await _player(session, player_id)
    consent_changes = await _marketing_consents(session, player, patch, actor, settings)
    patch = {k: v for k, v in patch.items() if k != "marketingConsents"}
    try:
        merged = merged_preferences(player.preferences, patch).model_dump()
    except ValidationError as exc:
        raise ValidationFailed(preference_problems(exc)) from None
    old_flat = flatten("preferences", player.preferences or {})
    new_flat = flatten("preferences", merged)
    changed = [key for key, value in new_flat.items() if old_flat.get(key) != value]
    if not changed and not consent_changes:
        return player, []
    for key in changed:
        session.add(_history(player_id, actor, key, old_flat.get(key), new_flat[key], pii=False))
    player.preferences = merged
    await session.flush()
    changed += consent_changes
    await outbox.record(
        session, "player.profile_updated", str(player_id),
        {"playerId": str(player_id), "fields": changed, "actor": actor},
    )  # fmt: skip
    await player_attributes_changed(session, player_id, changed, settings)
    return player, changed


async def _marketing_consents(
    session: AsyncSession, player: Player, patch: dict[str, Any], actor: str, settings: Settings
) -> list[str]:
    """Apply a ``marketingConsents`` patch as consent records; the changed paths."""
    raw = patch.get("marketingConsents")
    if raw is None:
        return []
    try:
        wanted = Channels.model_validate(raw).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise ValidationFailed(
            preference_problems(exc, prefix="preferences.marketingConsents")
        ) from None
    changed = []
    for channel, granted in wanted.items():
        if await consents.set_marketing(
            session,
            player.id,
            channel,
            granted,
            actor=actor,
            source="preferences",
            settings=settings,
        ):
            changed.append(f"preferences.marketingConsents.{channel}")
    await session.refresh(player, ["preferences"])
    return changed


async def set_vip_level(
    session: AsyncSession, player_id: uuid.UUID, level: int, *, actor: str, settings: Settings
) -> Player:
    """Staff set the VIP level; ``vip.activated`` when it goes up (0 -> n or n -> n+k)."""
    if not 0 <= level <= MAX_VIP_LEVEL:
        raise ValidationFailed.single("level", f"must be between 0 and {MAX_VIP_LEVEL}")
    player = await _player(session, player_id)
    old = player.vip_level
    if old == level:
        return player
    player.vip_level = level
    if level == 0:
        player.vip_since = None
    elif old == 0:
        player.vip_since = datetime.now(UTC)
    session.add(_history(player_id, actor, "vipLevel", old, level, pii=False))
    await session.flush()
    if level > old:
        await outbox.record(
            session, "vip.activated", str(player_id),
            {"playerId": str(player_id), "level": level, "previousLevel": old,
             "since": player.vip_since.isoformat() if player.vip_since else None},
        )  # fmt: skip
    await outbox.record(
        session, "player.profile_updated", str(player_id),
        {"playerId": str(player_id), "fields": ["vipLevel"], "actor": actor},
    )  # fmt: skip
    await player_attributes_changed(session, player_id, ("vipLevel",), settings)
    return player


async def set_tags(
    session: AsyncSession, player_id: uuid.UUID, tags: list[str], *, actor: str,
    settings: Settings,
) -> list[str]:  # fmt: skip
    """Replace the player's custom tags."""
    wanted = sorted(set(tags))
    if len(wanted) > MAX_TAGS:
        raise ValidationFailed.single("tags", f"at most {MAX_TAGS} tags")
    bad = [t for t in wanted if not CUSTOM_TAG.match(t)]
    if bad:
        raise ValidationFailed.single("tags", f"invalid tag {bad[0][:70]!r}")
    await _player(session, player_id)
    old = await tags_of(session, player_id)
    if old == wanted:
        return wanted
    await repository.replace_tags(session, player_id, wanted)
    session.add(_history(player_id, actor, "tags", old, wanted, pii=False))
    await session.flush()
    await player_attributes_changed(session, player_id, ("tags",), settings)
    return wanted


async def add_tags_many(
    session: AsyncSession, additions: dict[uuid.UUID, set[str]], *, actor: str,
    settings: Settings,
) -> set[uuid.UUID]:  # fmt: skip
    """Add tags to many players in one statement (imports), with the same rules and
    settings-history rows as ``set_tags``; the players whose tags changed."""
    pairs = [(p, t) for p in sorted(additions) for t in sorted(additions[p])]
    bad = [t for _, t in pairs if not CUSTOM_TAG.match(t)]
    if bad:
        raise ValidationFailed.single("tags", f"invalid tag {bad[0][:70]!r}")
    if not pairs:
        return set()
    changed = await repository.add_tags(session, pairs)
    for player_id, old, added in changed:
        if len(old) + len(added) > MAX_TAGS:
            raise ValidationFailed.single("tags", f"at most {MAX_TAGS} tags ({player_id})")
    session.add_all(_history(p, actor, "tags", old, sorted(old + added), pii=False)
                    for p, old, added in changed)  # fmt: skip
    await session.flush()
    players = [p for p, _, _ in changed]
    await players_attributes_changed(session, players, ("tags",), settings)
    return set(players)


async def tags_of_many(
    session: AsyncSession, player_ids: list[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    return await repository.tags_of_many(session, player_ids)


async def tags_of(session: AsyncSession, player_id: uuid.UUID) -> list[str]:
    return await repository.tags_of(session, player_id)


async def history_page(
    session: AsyncSession, player_id: uuid.UUID, limit: int, before_id: int | None
) -> tuple[list[SettingsChange], bool, int]:
    """Newest first, keyset on id; and the total number of changes."""
    return await repository.history_page(session, player_id, limit, before_id)
