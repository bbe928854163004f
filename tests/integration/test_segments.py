"""Segments: membership by rule, full (set-based) and per-player recompute, events, API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.events.models import OutboxEvent
from app.playstyle import service as playstyle
from app.profiles import service as profiles
from app.segments import service
from app.segments.models import Segment, SegmentMember
from tests.factories import create_player


async def members(session, segment) -> set:
    rows = await session.execute(
        select(SegmentMember.player_id).where(SegmentMember.segment_id == segment.id)
    )
    return set(rows.scalars())


async def event_types(session, player_id) -> list:
    rows = await session.execute(
        select(OutboxEvent.type, OutboxEvent.data)
        .where(OutboxEvent.subject == str(player_id), OutboxEvent.type.like("segment.%"))
        .order_by(OutboxEvent.id)
    )
    return [(t, d["segmentName"]) for t, d in rows]


async def test_full_recompute_over_attributes_metrics_and_tags(session, settings):
    de = await create_player(session, settings, country="DE", traffic_source="google")
    at = await create_player(session, settings, country="AT")
    us = await create_player(
        session, settings, country="US", birth_date=datetime(1980, 1, 1).date()
    )
    now = datetime.now(UTC)
    await playstyle.record_deposit(session, at.id, 50_000, "EUR", now)
    await playstyle.record_withdrawal(session, at.id, 10_000, "EUR", now)
    await profiles.set_tags(session, us.id, ["highroller"], actor="staff:m", settings=settings)

    dach, _ = await service.create_segment(
        session, name="DACH", actor="staff:m", settings=settings,
        rule={"attr": "country", "op": "in", "value": ["DE", "AT", "CH"]},
    )  # fmt: skip
    valuable, result = await service.create_segment(
        session, name="valuable", actor="staff:m", settings=settings,
        rule={"or": [{"attr": "netDeposits", "op": "gte", "value": 40_000},
                     {"attr": "tags", "op": "contains", "value": "highroller"}]},
    )  # fmt: skip
    not_google, _ = await service.create_segment(
        session, name="not google", actor="staff:m", settings=settings,
        rule={"not": {"attr": "trafficSource", "op": "eq", "value": "google"}},
    )  # fmt: skip

    assert await members(session, dach) == {de.id, at.id}
    assert await members(session, valuable) == {at.id, us.id}
    assert (result.entered, result.left) == (2, 0)
    # NULL traffic source is "not google" (two-valued comparisons).
    assert await members(session, not_google) == {at.id, us.id}
    assert await event_types(session, at.id) == [
        ("segment.entered", "DACH"), ("segment.entered", "valuable"),
        ("segment.entered", "not google"),
    ]  # fmt: skip


async def test_update_rule_moves_members_and_emits_left(session, settings):
    de = await create_player(session, settings, country="DE")
    seg, _ = await service.create_segment(
        session, name="de", actor="a", settings=settings,
        rule={"attr": "country", "op": "eq", "value": "DE"},
    )  # fmt: skip
    seg, result = await service.update_segment(
        session, seg.id, rule={"attr": "country", "op": "eq", "value": "FR"}, settings=settings
    )
    assert (result.entered, result.left) == (0, 1)
    assert await members(session, seg) == set()
    assert (await event_types(session, de.id))[-1] == ("segment.left", "de")

    again = await service.recompute_segment(session, seg, settings)
    assert (again.entered, again.left) == (0, 0)  # nothing changed, no events


async def test_player_recompute_follows_vip_and_activity(session, settings):
    player = await create_player(session, settings)
    vip, _ = await service.create_segment(
        session, name="vip active", actor="a", settings=settings,
        rule={"and": [{"attr": "vipLevel", "op": "gte", "value": 1},
                      {"attr": "activityStatus", "op": "eq", "value": "ACTIVE"}]},
    )  # fmt: skip
    assert await members(session, vip) == set()

    await profiles.set_vip_level(session, player.id, 2, actor="staff:s", settings=settings)
    assert await members(session, vip) == {player.id}

    old = datetime.now(UTC) - timedelta(days=200)
    await playstyle.record_bet(session, player.id, game_id="g", provider="p", category="slots",
                               stake_minor=100, currency="EUR", placed_at=old)  # fmt: skip
    # registered just now, but last activity 200 days ago -> CHURNED
    entered, left = await service.recompute_player_segments(session, player.id, settings)
    assert (entered, left) == ([], [vip.id])


async def test_invalid_rule_or_duplicate_name_saves_nothing(session, settings):
    import pytest

    from app.core.errors import AlreadyExists
    from app.segments.rules import InvalidRule

    await service.create_segment(
        session, name="one", actor="a", settings=settings,
        rule={"attr": "country", "op": "eq", "value": "DE"},
    )  # fmt: skip
    with pytest.raises(InvalidRule):
        await service.create_segment(session, name="two", actor="a", settings=settings,
                                     rule={"attr": "nope", "op": "eq", "value": 1})  # fmt: skip
    with pytest.raises(AlreadyExists):
        async with session.begin_nested():
            rule = {"attr": "country", "op": "eq", "value": "AT"}
            await service.create_segment(
                session, name="one", actor="a", settings=settings, rule=rule
            )
    count = (await session.execute(select(func.count()).select_from(Segment))).scalar_one()
    assert count == 1


CREATE = """
mutation($i: SegmentInput!) { createSegment(input: $i) {
  __typename
  ... on SegmentSuccess { segment { id name } entered }
  ... on InvalidSegmentRule { code reason path }
  ... on ValidationError { code field }
} }
"""
MEMBERS = """
query($id: ID!, $after: String) { segment(id: $id) { name players(first: 2, after: $after) {
  totalCount edges { node { id segments { name } } } pageInfo { hasNextPage endCursor } } } }
"""
DELETE = """mutation($id: ID!) { deleteSegment(id: $id) {
  __typename ... on DeleteSegmentSuccess { membersRemoved } } }"""


async def test_segment_api_create_paginate_delete(gql, db, settings, auth):
    marketer = await auth.staff_headers("MARKETER")
    ids = {str((await create_player(db, settings, country="DE")).id) for _ in range(3)}
    await create_player(db, settings, country="FR")

    rule = {"attr": "ssn", "op": "eq", "value": 1}
    bad = await gql(CREATE, {"i": {"name": "x", "rule": rule}}, **marketer)
    support = await gql(
        CREATE, {"i": {"name": "y", "rule": rule}}, **await auth.staff_headers("SUPPORT")
    )
    assert bad["data"]["createSegment"] == {
        "__typename": "InvalidSegmentRule", "code": "INVALID_SEGMENT_RULE",
        "reason": "UNKNOWN_ATTRIBUTE", "path": "$.attr",
    }  # fmt: skip
    assert support["data"]["createSegment"]["__typename"] == "Forbidden"
    germany = {"name": "Germany", "rule": {"attr": "country", "op": "eq", "value": "DE"}}
    body = await gql(CREATE, {"i": germany}, **marketer)
    created = body["data"]["createSegment"]
    assert created["entered"] == 3

    seen, after = set(), None
    while True:
        page = (await gql(MEMBERS, {"id": created["segment"]["id"], "after": after}, **marketer))[
            "data"
        ]
        conn = page["segment"]["players"]
        assert conn["totalCount"] == 3
        seen |= {e["node"]["id"] for e in conn["edges"]}
        assert all(e["node"]["segments"] == [{"name": "Germany"}] for e in conn["edges"])
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == ids

    deleted = await gql(DELETE, {"id": created["segment"]["id"]}, **marketer)
    assert deleted["data"]["deleteSegment"]["membersRemoved"] == 3
    async with db.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(SegmentMember))).scalar_one() == 0
        left = await s.execute(select(func.count()).where(OutboxEvent.type == "segment.left"))
        assert left.scalar_one() == 3
