"""Staff and player mutations leave an audit row: who, what, on whom, and the outcome."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import create_player

CREATE_SEGMENT = """mutation($i: SegmentInput!) { createSegment(input: $i) { __typename } }"""
SET_VIP = """mutation($id: ID!, $level: Int!) { setVipLevel(playerId: $id, level: $level) {
  __typename } }"""


async def audit_rows(db, action: str) -> list:
    async with db.read_session() as session:
        rows = await session.execute(
            text("SELECT actor, target, outcome, details, request_id FROM audit_log "
                 "WHERE action = :a ORDER BY id"),
            {"a": action},
        )  # fmt: skip
        return list(rows)


async def test_allowed_mutations_are_audited_with_their_outcome(gql, db, settings, auth):
    marketer = await auth.staff_headers("MARKETER", "m-1")
    good = {"name": "Germany", "rule": {"attr": "country", "op": "eq", "value": "DE"}}
    bad = {"name": "Broken", "rule": {"attr": "ssn", "op": "eq", "value": 1}}

    await gql(CREATE_SEGMENT, {"i": good}, **marketer, **{"x-request-id": "req-seg-1"})
    await gql(CREATE_SEGMENT, {"i": bad}, **marketer)

    rows = await audit_rows(db, "graphql.createSegment")
    assert [(r.actor, r.outcome) for r in rows] == [
        ("staff:m-1", "success"),
        ("staff:m-1", "failure"),
    ]
    assert rows[0].request_id == "req-seg-1"
    assert rows[1].details == {"code": "INVALID_SEGMENT_RULE"}


async def test_player_targeted_mutation_names_the_player_and_denials_are_audited(
    gql, db, settings, auth
):
    player = await create_player(db, settings)
    marketer = await auth.staff_headers("MARKETER", "m-2")
    finance = await auth.staff_headers("FINANCE", "f-1")

    allowed = await gql(SET_VIP, {"id": str(player.id), "level": 2}, **marketer)
    denied = await gql(SET_VIP, {"id": str(player.id), "level": 9}, **finance)

    assert allowed["data"]["setVipLevel"]["__typename"] == "UpdatePlayerSuccess"
    assert denied["data"]["setVipLevel"]["__typename"] == "Forbidden"
    rows = await audit_rows(db, "graphql.setVipLevel")
    assert [(r.actor, r.target, r.outcome) for r in rows] == [
        ("staff:m-2", str(player.id), "success"),
        ("staff:f-1", str(player.id), "denied"),
    ]
