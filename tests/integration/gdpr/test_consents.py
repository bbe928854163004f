"""Consent records through GraphQL: per channel and terms version, every change a history
row (who, when, source, old -> new), self-service and staff per the matrix, typed errors
for bad input with nothing written, included in the GDPR export."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.factories import create_player

SET = """mutation($p: ID!, $c: String!, $g: Boolean!) {
  setMarketingConsent(playerId: $p, channel: $c, granted: $g) { __typename
    ... on PlayerConsents { marketing { channel granted } history { purpose oldValue newValue
      actor source } }
    ... on ValidationError { code field } ... on UserError { code } } }"""
TERMS = """mutation($p: ID!, $v: String!) { acceptTerms(playerId: $p, version: $v) {
  __typename ... on PlayerConsents { termsVersion } ... on UserError { code } } }"""
READ = """query($p: ID!) { playerConsents(playerId: $p) { termsVersion
  marketing { channel granted } history { purpose newValue source } } }"""
EXPORT = """mutation($p: ID!) { exportPlayerData(playerId: $p) {
  ... on PlayerDataExport { document } } }"""


@pytest.fixture
async def player(db, settings):
    return await create_player(db, settings)


async def changes(db, player_id):
    async with db.read_session() as s:
        rows = await s.execute(text("SELECT purpose, old_value, new_value, actor, source FROM "
                                    "player_consent_changes WHERE player_id = :p ORDER BY id"),
                               {"p": player_id})  # fmt: skip
        return [tuple(r) for r in rows]


async def test_player_records_own_consents_with_history(gql, auth, db, player):
    me = await auth.player_headers(player)
    granted = (await gql(SET, {"p": str(player.id), "c": "email", "g": True}, **me))["data"]
    state = granted["setMarketingConsent"]
    assert {"channel": "email", "granted": True} in state["marketing"]
    assert {"channel": "sms", "granted": False} in state["marketing"]
    await gql(SET, {"p": str(player.id), "c": "email", "g": True}, **me)  # no change: no row
    await gql(SET, {"p": str(player.id), "c": "email", "g": False}, **me)
    key = f"player:{player.id}"
    assert await changes(db, player.id) == [
        ("marketing.email", None, "granted", key, "self-service"),
        ("marketing.email", "granted", "withdrawn", key, "self-service"),
    ]
    terms = await gql(TERMS, {"p": str(player.id), "v": "2026-12"}, **me)
    assert terms["data"]["acceptTerms"]["termsVersion"] == "2026-12"
    read = (await gql(READ, {"p": str(player.id)}, **me))["data"]["playerConsents"]
    assert read["termsVersion"] == "2026-12"
    assert read["history"][0] == {"purpose": "terms", "newValue": "2026-12",
                                  "source": "self-service"}  # fmt: skip


async def test_staff_per_matrix_and_other_players_refused(gql, auth, db, settings, player):
    support = await auth.staff_headers("SUPPORT", "s-1")
    body = await gql(SET, {"p": str(player.id), "c": "sms", "g": True}, **support)
    assert body["data"]["setMarketingConsent"]["history"][0]["source"] == "staff"
    marketer = await auth.staff_headers("MARKETER", "m-1")
    denied = await gql(SET, {"p": str(player.id), "c": "sms", "g": False}, **marketer)
    assert denied["data"]["setMarketingConsent"]["__typename"] == "Forbidden"
    assert (await gql(READ, {"p": str(player.id)}, **marketer))["data"]["playerConsents"]
    other = await create_player(db, settings)
    stranger = await auth.player_headers(other)
    assert (await gql(READ, {"p": str(player.id)}, **stranger))["data"]["playerConsents"] is None
    refused = await gql(SET, {"p": str(player.id), "c": "sms", "g": False}, **stranger)
    assert refused["data"]["setMarketingConsent"]["__typename"] == "Forbidden"
    assert [c[:3] for c in await changes(db, player.id)] == [("marketing.sms", None, "granted")]


@pytest.mark.parametrize("channel", ["fax", "EMAIL", ""])
async def test_unknown_channel_is_a_typed_error_and_writes_nothing(gql, auth, db, player, channel):
    me = await auth.player_headers(player)
    body = await gql(SET, {"p": str(player.id), "c": channel, "g": True}, **me)
    assert body["data"]["setMarketingConsent"] == {
        "__typename": "ValidationError", "code": "VALIDATION_ERROR", "field": "channel"
    }  # fmt: skip
    assert await changes(db, player.id) == []


async def test_unknown_player_and_bad_terms_version(gql, auth, db, player):
    staff = await auth.staff_headers("COMPLIANCE", "c-1")
    ghost = "00000000-0000-0000-0000-000000000000"
    body = await gql(SET, {"p": ghost, "c": "email", "g": True}, **staff)
    assert body["data"]["setMarketingConsent"]["code"] == "NOT_FOUND"
    bad = await gql(TERMS, {"p": str(player.id), "v": "v 1; drop"}, **staff)
    assert bad["data"]["acceptTerms"]["code"] == "VALIDATION_ERROR"
    assert await changes(db, player.id) == []


async def test_consents_are_in_the_gdpr_export(gql, auth, db, player):
    me = await auth.player_headers(player)
    await gql(SET, {"p": str(player.id), "c": "push", "g": True}, **me)
    staff = await auth.staff_headers("COMPLIANCE", "c-1")
    document = json.loads(
        (await gql(EXPORT, {"p": str(player.id)}, **staff))["data"]["exportPlayerData"]["document"]
    )
    current = document["tables"]["player_consents"]["rows"]
    assert [(r["purpose"], r["value"]) for r in current] == [("marketing.push", "granted")]
    history = document["tables"]["player_consent_changes"]["rows"]
    assert [(r["purpose"], r["new_value"], r["source"]) for r in history] == [
        ("marketing.push", "granted", "self-service")
    ]


async def test_preferences_patch_and_crm_rule_read_the_records(db, settings, player):
    """updatePreferences' marketingConsents become records; the CRM rule reads records,
    not the preferences JSON (a stale JSON value is ignored)."""
    from app.consents.service import marketing_consents_sql
    from app.profiles import service as profiles

    async with db.transaction() as s:
        await profiles.update_preferences(s, player.id, {"marketingConsents": {"sms": True}},
                                          actor="staff:1", settings=settings)  # fmt: skip
    assert [c[:3] for c in await changes(db, player.id)] == [("marketing.sms", None, "granted")]
    async with db.transaction() as s:
        await s.execute(text("UPDATE players SET preferences = jsonb_set(preferences, "
                             "'{marketingConsents,email}', 'true') WHERE id = :p"),
                        {"p": player.id})  # fmt: skip
        rule = marketing_consents_sql("p.id")
        consents = await s.scalar(text(f"SELECT {rule} FROM players p WHERE p.id = :p"),
                                  {"p": player.id})  # fmt: skip
    assert consents == {"sms": True}


CREATE_SEGMENT = """mutation($rule: JSON!) { createSegment(input: {name: "email ok", rule: $rule}) {
  __typename ... on SegmentSuccess { segment { id } entered }
  ... on InvalidSegmentRule { reason path } } }"""


async def members(db, segment_id):
    async with db.read_session() as s:
        rows = await s.execute(text("SELECT player_id FROM segment_members WHERE segment_id = "
                                    ":s"), {"s": segment_id})  # fmt: skip
        return [r.player_id for r in rows]


async def test_segments_read_the_consent_records(gql, auth, db, settings, player):
    marketer = await auth.staff_headers("MARKETER", "m-1")
    rule = {"attr": "marketingConsent", "op": "contains", "value": "email"}
    created = (await gql(CREATE_SEGMENT, {"rule": rule}, **marketer))["data"]["createSegment"]
    assert created["__typename"] == "SegmentSuccess" and created["entered"] == 0
    segment = created["segment"]["id"]
    me = await auth.player_headers(player)
    await gql(SET, {"p": str(player.id), "c": "email", "g": True}, **me)
    assert await members(db, segment) == [player.id]  # re-evaluated with the change
    await gql(SET, {"p": str(player.id), "c": "email", "g": False}, **me)
    assert await members(db, segment) == []
    bad = {"attr": "marketingConsent", "op": "contains", "value": "fax"}
    refused = (await gql(CREATE_SEGMENT, {"rule": bad}, **marketer))["data"]["createSegment"]
    assert refused == {"__typename": "InvalidSegmentRule", "reason": "INVALID_VALUE",
                       "path": "$.value"}  # fmt: skip
