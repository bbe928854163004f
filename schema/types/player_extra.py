"""Resolvers of the Player fields added by issue 6 (kept out of player.py so that file only
gains a few declarations). Each names the permission the RBAC integration attaches; all
read through the request's loaders (schema/loaders.py), never a session of their own."""

from __future__ import annotations

import uuid
from typing import Any

from app.players.models import Player as PlayerRow
from schema.context import Info
from schema.loaders import (
    HistoryPageKey,
    KycCasesByPlayer,
    MetricsByPlayer,
    PlayerById,
    ProfileByPlayer,
    SegmentsByPlayer,
    SettingsHistoryPages,
    TagsByPlayer,
)
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
        row: PlayerRow = root._row
        return row
    loaded = await info.context.loaders.get(PlayerById).load(_id(root))
    assert loaded is not None
    return loaded


async def profile(root: Any, info: Info) -> PlayerProfile | None:
    """permission: player:read_pii (owner ok); values masked without it."""
    row = await info.context.loaders.get(ProfileByPlayer).load(_id(root))
    return PlayerProfile.build(await _row(root, info), row, can_see_pii(info, root.id))


async def vip(root: Any, info: Info) -> VipStatus | None:
    """permission: player:read"""
    row = await _row(root, info)
    return VipStatus(level=row.vip_level, since=row.vip_since)


async def segments(root: Any, info: Info) -> list[Segment]:
    """permission: player:read"""
    return [
        Segment.from_model(s)
        for s in await info.context.loaders.get(SegmentsByPlayer).load(_id(root))
    ]


async def play_style(root: Any, info: Info) -> PlayStyle | None:
    """permission: player:read (no personal data; marketers may see it)"""
    row = await info.context.loaders.get(MetricsByPlayer).load(_id(root))
    return PlayStyle.from_model(row) if row is not None else None


async def settings_history(
    root: Any, info: Info, first: int = 20, after: str | None = None
) -> Connection[SettingsChange] | None:
    """permission: player:read (owner ok); PII values masked without player:read_pii."""
    limit = check_page_size(first, info.context.settings.max_page_size)
    before = decode_id_cursor(after)
    key = HistoryPageKey(_id(root), limit, before)
    rows, has_next, total = await info.context.loaders.get(SettingsHistoryPages).load(key)
    visible = can_see_pii(info, root.id)
    return Connection[SettingsChange].build(
        [(encode_cursor(r.id), SettingsChange.from_model(r, visible)) for r in rows],
        has_next=has_next,
        has_previous=before is not None,
        total=total,
    )


async def kyc_cases(root: Any, info: Info) -> list[KycCase]:
    """permission: kyc:review (owner ok)"""
    rows = await info.context.loaders.get(KycCasesByPlayer).load(_id(root))
    return [KycCase.from_model(r) for r in rows]


async def tags(root: Any, info: Info) -> list[str]:
    """permission: player:read"""
    return await info.context.loaders.get(TagsByPlayer).load(_id(root))
