"""previewSegment through GraphQL: members now, their history by day, nothing written."""

from __future__ import annotations

from sqlalchemy import text

from app.core.db import Database
from tests.factories import create_player

PREVIEW = """
query P($rule: JSON!, $days: Int, $first: Int) {
  previewSegment(rule: $rule, days: $days, first: $first) {
    __typename
    ... on SegmentPreview { count players { id country } history { day members } }
    ... on UserError { code message }
  }
}
"""
TABLES = ("segments", "segment_members", "outbox_events", "player_tags")


async def _registered_days_ago(db: Database, player_id, days: int) -> None:
    async with db.transaction() as s:
        await s.execute(
            text("UPDATE players SET created_at = date_trunc('day', now() AT TIME ZONE 'UTC') "
                 "AT TIME ZONE 'UTC' - make_interval(days => :d) + interval '1 hour' "
                 "WHERE id = :p"),
            {"d": days, "p": player_id},
        )  # fmt: skip


async def _counts(db: Database) -> dict[str, int]:
    async with db.transaction() as s:
        return {t: (await s.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                for t in TABLES}  # fmt: skip


async def test_preview_counts_lists_and_replays_time_without_writing(
    db: Database, settings, gql, auth
):
    old_de = await create_player(db, settings, country="DE")
    fr = await create_player(db, settings, country="FR")
    new_de = await create_player(db, settings, country="DE")
    await _registered_days_ago(db, old_de.id, 10)
    await _registered_days_ago(db, fr.id, 4)
    marketer = await auth.staff_headers("MARKETER")
    before = await _counts(db)

    germans = await gql(PREVIEW, {"rule": {"attr": "country", "op": "eq", "value": "DE"},
                                  "days": 3}, **marketer)  # fmt: skip
    found = germans["data"]["previewSegment"]
    assert found["count"] == 2
    assert [p["id"] for p in found["players"]] == sorted([str(old_de.id), str(new_de.id)])
    # new_de registered today: a member today only.
    assert [d["members"] for d in found["history"]] == [1, 1, 2]

    aged = await gql(PREVIEW, {"rule": {"attr": "registeredDays", "op": "gte", "value": 3},
                               "days": 6, "first": 1}, **marketer)  # fmt: skip
    found = aged["data"]["previewSegment"]
    assert found["count"] == 2 and len(found["players"]) == 1
    # fr (registered 4 days ago) is 3 days old from yesterday's end; old_de all along.
    assert [d["members"] for d in found["history"]] == [1, 1, 1, 1, 2, 2]
    days = [d["day"] for d in found["history"]]
    assert days == sorted(days) and len(set(days)) == 6

    assert await _counts(db) == before  # a dry run writes nothing
    async with db.transaction() as s:
        listed = (await s.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'player.list'")
        )).scalar_one()  # fmt: skip
    assert listed == 2  # the players shown are audited as a staff listing


async def test_bad_rules_and_bounds_are_typed_errors(db: Database, settings, gql, auth):
    marketer = await auth.staff_headers("MARKETER")
    finance = await auth.staff_headers("FINANCE")
    de = {"attr": "country", "op": "eq", "value": "DE"}

    async def answer(variables, headers=marketer):
        return (await gql(PREVIEW, variables, **headers))["data"]["previewSegment"]

    bad = await answer({"rule": {"attr": "ssn", "op": "eq", "value": 1}})
    assert (bad["__typename"], bad["code"]) == ("InvalidSegmentRule", "INVALID_SEGMENT_RULE")
    assert (await answer({"rule": de, "days": 91}))["__typename"] == "ValidationError"
    assert (await answer({"rule": de, "first": 0}))["__typename"] == "ValidationError"
    risk = await answer({"rule": {"attr": "riskLevel", "op": "eq", "value": "HIGH"}})
    assert risk["__typename"] == "Forbidden" and "kyc:read" in risk["message"]
    assert (await answer({"rule": de}, finance))["__typename"] == "Forbidden"
    costly = await gql(PREVIEW, {"rule": de, "first": 100}, **marketer)
    assert costly["data"]["previewSegment"]["__typename"] == "SegmentPreview"
    nested = """query { previewSegment(rule: {attr: "country", op: "eq", value: "DE"},
      first: 100) { ... on SegmentPreview { players { segments {
        players(first: 100) { edges { node { id } } } } } } } }"""
    refused = await gql(nested, **marketer)
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
