"""kyc, profiles and playstyle announce player_attributes_changed; segments follow through
the listener pms.hooks registers, inside the announcer's transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.settings import Settings
from app.kyc import service as kyc
from app.kyc.provider import DocumentSubmission
from app.players import hooks
from app.players.models import Player
from app.playstyle import consumer
from app.profiles import service as profiles
from app.segments import service as segments
from app.segments.models import Segment, SegmentMember
from app.segments.service import on_player_attributes_changed
from tests.factories import create_player

PASSPORT = DocumentSubmission("PASSPORT", "DE", "C01X00T471", "2035-01-01")


@pytest.fixture
async def announced() -> AsyncIterator[list[tuple[AsyncSession, hooks.AttributesChanged]]]:
    """Records every announcement (besides the registered segments listener)."""
    seen: list[tuple[AsyncSession, hooks.AttributesChanged]] = []

    async def record(session: AsyncSession, change: hooks.AttributesChanged) -> None:
        seen.append((session, change))

    hooks.register_listener(record)
    try:
        yield seen
    finally:
        hooks.unregister_listener(record)


async def members(session: AsyncSession, segment: Segment) -> set[uuid.UUID]:
    rows = await session.execute(
        select(SegmentMember.player_id).where(SegmentMember.segment_id == segment.id)
    )
    return set(rows.scalars())


async def segment(session: AsyncSession, settings: Settings, name: str, rule: dict) -> Segment:
    created, _ = await segments.create_segment(
        session, name=name, rule=rule, actor="staff:m", settings=settings
    )
    return created


async def test_each_announcer_names_its_attributes(session, settings, announced):
    player = await create_player(session, settings)

    await profiles.set_vip_level(session, player.id, 3, actor="staff:s", settings=settings)
    await profiles.set_tags(session, player.id, ["whale"], actor="staff:s", settings=settings)
    await profiles.update_preferences(
        session, player.id, {"theme": "dark"}, actor="player:x", settings=settings
    )
    await kyc.open_case(
        session, player.id, [PASSPORT], provider="sandbox", actor="player:x", settings=settings
    )
    deposit = SimpleNamespace(
        type="wallet.deposited", subject=str(player.id), time=datetime.now(UTC),
        data={"playerId": str(player.id), "amount": "10.00", "currency": "EUR"},
    )  # fmt: skip
    await consumer.apply_event(session, deposit, settings)

    assert all(s is session for s, _ in announced)  # the announcer's own session
    assert all(c.player_id == player.id and c.settings is settings for _, c in announced)
    names = [c.attributes for _, c in announced]
    assert names[0] == {"vipLevel"}
    assert names[1] == {"tags"}
    # The first preferences write stores every default too: all its paths are changes.
    assert "preferences.theme" in names[2]
    assert all(n.startswith("preferences.") for n in names[2])
    assert names[3] == {"confirmStatus", "riskLevel"}
    assert {"depositCount", "netDeposits"} <= names[4]


async def test_no_change_announces_nothing(session, settings, announced):
    player = await create_player(session, settings)
    await profiles.set_vip_level(session, player.id, 0, actor="staff:s", settings=settings)
    await profiles.set_tags(session, player.id, [], actor="staff:s", settings=settings)
    assert announced == []


async def test_segments_follow_only_through_the_registered_listener(session, settings):
    player = await create_player(session, settings)
    vip = await segment(session, settings, "vip", {"attr": "vipLevel", "op": "gte", "value": 1})

    hooks.unregister_listener(on_player_attributes_changed)
    try:
        await profiles.set_vip_level(session, player.id, 2, actor="staff:s", settings=settings)
        assert await members(session, vip) == set()  # nobody listens: nothing moves
    finally:
        hooks.register_listener(on_player_attributes_changed)

    await profiles.set_vip_level(session, player.id, 4, actor="staff:s", settings=settings)
    assert await members(session, vip) == {player.id}


async def test_membership_commits_and_rolls_back_with_the_change(db: Database, settings):
    player = await create_player(db, settings)
    async with db.transaction() as s:
        tagged = await segment(s, settings, "tagged", {"attr": "tags", "op": "contains",
                                                       "value": "whale"})  # fmt: skip

    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await profiles.set_tags(s, player.id, ["whale"], actor="staff:s", settings=settings)
            assert await members(s, tagged) == {player.id}  # listener ran in this transaction
            raise RuntimeError("abort after the change")
    async with db.transaction() as s:
        assert await members(s, tagged) == set()
        assert await profiles.tags_of(s, player.id) == []

    async with db.transaction() as s:
        await profiles.set_tags(s, player.id, ["whale"], actor="staff:s", settings=settings)
    async with db.transaction() as s:
        assert await members(s, tagged) == {player.id}
        row = await s.get(Player, player.id)
        assert row is not None
