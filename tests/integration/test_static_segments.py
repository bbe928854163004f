"""Static segments (Segment.kind STATIC): lists that rule recomputes never touch."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from app.core.db import Database
from app.core.errors import ValidationFailed
from app.segments import service
from app.segments.models import SegmentKind, SegmentMember
from tests.factories import create_player


async def _members(db: Database, segment_id) -> set[uuid.UUID]:
    async with db.transaction() as s:
        rows = await s.execute(
            select(SegmentMember.player_id).where(SegmentMember.segment_id == segment_id)
        )
        return set(rows.scalars())


async def _events(db: Database) -> list[tuple[str, str]]:
    async with db.transaction() as s:
        rows = await s.execute(
            text("SELECT type, subject FROM outbox_events WHERE type LIKE 'segment.%' ORDER BY id")
        )
        return [(r.type, r.subject) for r in rows]


async def test_static_members_survive_recomputes_and_rule_segments_still_work(
    db: Database, settings
):
    de = await create_player(db, settings, country="DE")
    fr = await create_player(db, settings, country="FR")
    async with db.transaction() as s:
        static, result = await service.create_segment(
            s, name="imported", rule=None, actor="t", settings=settings, kind=SegmentKind.STATIC
        )
        assert (result.entered, result.left) == (0, 0)
        assert await service.add_static_members(s, static.id, [fr.id, fr.id]) == [fr.id]
        rule, _ = await service.create_segment(
            s, name="germans", rule={"attr": "country", "op": "eq", "value": "DE"}, actor="t",
            settings=settings,
        )  # fmt: skip
    async with db.transaction() as s:
        await service.recompute_all(s, settings)
        await service.recompute_player_segments(s, fr.id, settings)
    assert await _members(db, static.id) == {fr.id}
    assert await _members(db, rule.id) == {de.id}
    assert static.kind == "STATIC" and rule.kind == "RULE"

    async with db.transaction() as s:
        assert await service.remove_static_members(s, static.id, [fr.id, de.id]) == [fr.id]
    assert await _members(db, static.id) == set()
    events = await _events(db)
    assert ("segment.entered", str(fr.id)) in events and ("segment.left", str(fr.id)) in events


async def test_static_segment_bad_input_is_typed_and_adds_nothing(db: Database, settings):
    player = await create_player(db, settings)
    async with db.transaction() as s:
        static, _ = await service.create_segment(
            s, name="list", rule=None, actor="t", settings=settings, kind=SegmentKind.STATIC
        )
        rule, _ = await service.create_segment(
            s, name="all de", rule={"attr": "country", "op": "eq", "value": "DE"}, actor="t",
            settings=settings,
        )  # fmt: skip
    with pytest.raises(ValidationFailed) as unknown:
        async with db.transaction() as s:
            await service.add_static_members(s, static.id, [player.id, uuid.uuid4()])
    assert unknown.value.problems[0].field == "playerIds"
    assert await _members(db, static.id) == set()
    for call in (
        lambda s: service.create_segment(s, name="x", rule={"attr": "country", "op": "eq",
                                         "value": "DE"}, actor="t", kind=SegmentKind.STATIC),
        lambda s: service.create_segment(s, name="y", rule=None, actor="t"),
        lambda s: service.update_segment(s, static.id, rule={"attr": "country", "op": "eq",
                                         "value": "DE"}),
        lambda s: service.add_static_members(s, rule.id, [player.id]),
    ):  # fmt: skip
        with pytest.raises(ValidationFailed):
            async with db.transaction() as s:
                await call(s)
    async with db.transaction() as s:
        count = (await s.execute(text("SELECT count(*) FROM segments"))).scalar_one()
    assert count == 2


STATIC_CREATE = """
mutation($i: SegmentInput!) { createSegment(input: $i) {
  __typename ... on SegmentSuccess { segment { id kind rule } entered }
  ... on ValidationError { code field } } }
"""
STATIC_ADD = """
mutation($id: ID!, $p: [ID!]!) { addStaticSegmentMembers(id: $id, playerIds: $p) {
  __typename ... on SegmentSuccess { segment { kind players { totalCount } } entered left }
  ... on ValidationError { code field } } }
"""
STATIC_REMOVE = """
mutation($id: ID!, $p: [ID!]!) { removeStaticSegmentMembers(id: $id, playerIds: $p) {
  __typename ... on SegmentSuccess { entered left } } }
"""


async def test_static_segments_through_graphql(gql, db, settings, auth):
    marketer = await auth.staff_headers("MARKETER")
    player = str((await create_player(db, settings)).id)
    created = (await gql(STATIC_CREATE, {"i": {"name": "imported", "kind": "STATIC"}},
                         **marketer))["data"]["createSegment"]  # fmt: skip
    assert created["segment"]["kind"] == "STATIC" and created["segment"]["rule"] == {}
    segment_id = created["segment"]["id"]

    added = (await gql(STATIC_ADD, {"id": segment_id, "p": [player]}, **marketer))["data"]
    assert added["addStaticSegmentMembers"] == {
        "__typename": "SegmentSuccess", "segment": {"kind": "STATIC", "players": {"totalCount": 1}},
        "entered": 1, "left": 0,
    }  # fmt: skip
    bad = await gql(STATIC_ADD, {"id": segment_id, "p": ["not-an-id"]}, **marketer)
    assert bad["data"]["addStaticSegmentMembers"] == {
        "__typename": "ValidationError",
        "code": "VALIDATION_ERROR",
        "field": "playerIds",
    }
    support = await gql(STATIC_ADD, {"id": segment_id, "p": [player]},
                        **await auth.staff_headers("SUPPORT"))  # fmt: skip
    assert support["data"]["addStaticSegmentMembers"]["__typename"] == "Forbidden"
    removed = await gql(STATIC_REMOVE, {"id": segment_id, "p": [player]}, **marketer)
    assert removed["data"]["removeStaticSegmentMembers"] == {
        "__typename": "SegmentSuccess", "entered": 0, "left": 1,
    }  # fmt: skip
    assert await _members(db, uuid.UUID(segment_id)) == set()
