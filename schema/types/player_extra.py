"""Resolvers of the Player fields added by issue 6 (kept out of player.py so that file only
gains a few declarations). Each names the permission the RBAC integration attaches."""

from __future__ import annotations

import uuid
from typing import Any

from app.kyc import service as kyc
from app.players.models import Player as PlayerRow
from app.profiles import service as profiles
from schema.context import Info
from schema.pagination import (
    Connection,
    check_page_size,
    decode_id_cursor,
    encode_cursor,
)
from schema.types.kyc import KycCase
from schema.types.profile import (
    PlayerProfile,
    PlayStyle,
    SettingsChange,
    VipStatus,
    can_see_pii,
)
from schema.types.segment import Segment


def _id(root: Any) -> uuid.UUID:
    return uuid.UUID(str(root.id))


async def _row(root: Any, info: Info) -> PlayerRow:
    if root._row is not None:
        return root._row
    async with info.context.db.read_session() as session:
        row = await session.get(PlayerRow, _id(root))
    assert row is not None
    return row


def _loaders(info: Info) -> Any:
    from resolvers.profile_loaders import profile_loaders  # resolvers own the DataLoaders

    return profile_loaders(info.context)


async def profile(root: Any, info: Info) -> PlayerProfile | None:
    """permission: player:read_pii (owner ok); values masked without it."""
    row = await _loaders(info).profile.load(_id(root))
    return PlayerProfile.build(await _row(root, info), row, can_see_pii(info, root.id))


async def vip(root: Any, info: Info) -> VipStatus | None:
    """permission: player:read"""
    row = await _row(root, info)
    return VipStatus(level=row.vip_level, since=row.vip_since)


async def segments(root: Any, info: Info) -> list[Segment]:
    """permission: player:read"""
    return [Segment.from_model(s) for s in await _loaders(info).segments.load(_id(root))]


async def play_style(root: Any, info: Info) -> PlayStyle | None:
    """permission: player:read (no personal data; marketers may see it)"""
    row = await _loaders(info).metrics.load(_id(root))
    return PlayStyle.from_model(row) if row is not None else None


async def settings_history(
    root: Any, info: Info, first: int = 20, after: str | None = None
) -> Connection[SettingsChange] | None:
    """permission: player:read (owner ok); PII values masked without player:read_pii."""
    limit = check_page_size(first, info.context.settings.max_page_size)
    before = decode_id_cursor(after)
    async with info.context.db.read_session() as session:
        rows, has_next, total = await profiles.history_page(session, _id(root), limit, before)
    visible = can_see_pii(info, root.id)
    return Connection[SettingsChange].build(
        [(encode_cursor(r.id), SettingsChange.from_model(r, visible)) for r in rows],
        has_next=has_next,
        has_previous=before is not None,
        total=total,
    )


async def kyc_cases(root: Any, info: Info) -> list[KycCase]:
    """permission: kyc:review (owner ok)"""
    async with info.context.db.read_session() as session:
        rows = await kyc.cases_of_player(session, _id(root))
    return [KycCase.from_model(r) for r in rows]


async def tags(root: Any, info: Info) -> list[str]:
    """permission: player:read"""
    async with info.context.db.read_session() as session:
        return await profiles.tags_of(session, _id(root))
