"""Issue 10 items 1-6 over real HTTP and PostgreSQL: every way to a datum obeys the field
rule (federation entities, search, segment members and rules, KYC screening, REST audit)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.audit.personal import values_of
from app.kyc.models import KycCase
from app.segments.models import Segment
from app.wallets.models import Wallet
from tests.factories import create_player

ENTITIES = """
query E($reps: [_Any!]!) {
  _entities(representations: $reps) {
    __typename
    ... on Wallet { id balance { amount } transactions(first: 3) { totalCount } }
    ... on Player { id login }
    ... on Segment { id name players { edges { cursor } } }
  }
}
"""


async def _wallet_id(db, player) -> int:
    async with db.read_session() as s:
        query = select(Wallet.id).where(Wallet.player_id == player.id, Wallet.kind == "REAL")
        return (await s.execute(query)).scalar_one()


async def test_entities_show_wallets_only_with_wallet_read(gql, db, settings, auth):
    player = await create_player(db, settings)
    reps = [{"__typename": "Wallet", "id": str(await _wallet_id(db, player))}]
    marketer = await auth.staff_headers("MARKETER")
    reader = await auth.service_headers("player:read", client_id="partner-read")
    finance = await auth.staff_headers("FINANCE")
    owner = await auth.player_headers(player)
    other = await auth.player_headers(await create_player(db, settings))

    for denied in (marketer, reader, other):
        body = await gql(ENTITIES, {"reps": reps}, **denied)
        assert body["data"]["_entities"] == [None], body
    for allowed in (finance, owner):
        (wallet,) = (await gql(ENTITIES, {"reps": reps}, **allowed))["data"]["_entities"]
        assert wallet["balance"] == {"amount": "0.00"}
        assert wallet["transactions"]["totalCount"] == 0


async def test_entities_refuse_more_than_the_configured_representations(gql, auth, settings):
    finance = await auth.staff_headers("FINANCE")
    reps = [{"__typename": "Wallet", "id": str(i)} for i in range(1, 102)]
    body = await gql(ENTITIES, {"reps": reps}, **finance)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_REPRESENTATIONS"
    at_limit = await gql(ENTITIES, {"reps": reps[:100]}, **finance)
    assert at_limit["data"]["_entities"] == [None] * 100  # no such wallets: null each
    assert settings.max_entity_representations == 100  # the default


async def _segment(db, settings, rule) -> Segment:
    from app.segments import service

    async with db.transaction() as s:
        row, _ = await service.create_segment(
            s, name=f"seg-{uuid.uuid4().hex[:6]}", rule=rule, actor="staff:t", settings=settings
        )
    return row


async def test_segment_entities_and_members_need_segment_and_player_read(gql, db, settings, auth):
    a = await create_player(db, settings, country="MT")
    b = await create_player(db, settings, country="MT")
    segment = await _segment(db, settings, {"attr": "country", "op": "eq", "value": "MT"})
    reps = [{"__typename": "Segment", "id": str(segment.id)}]

    anonymous = await gql(ENTITIES, {"reps": reps})
    assert anonymous["data"]["_entities"] == [None]
    segments_only = await auth.service_headers("segment:read", client_id="seg-only")
    (no_members,) = (await gql(ENTITIES, {"reps": reps}, **segments_only))["data"]["_entities"]
    assert no_members["name"] == segment.name and no_members["players"] is None
    marketer = await auth.staff_headers("MARKETER")
    (full,) = (await gql(ENTITIES, {"reps": reps}, **marketer))["data"]["_entities"]
    assert len(full["players"]["edges"]) == 2

    # a player sees their own segments, never the other members
    me = await gql("{ me { ... on Player { segments { name players { edges { cursor } } } } } }",
                   **await auth.player_headers(a))  # fmt: skip
    assert me["data"]["me"]["segments"] == [{"name": segment.name, "players": None}], me
    assert b.id != a.id


CREATE = """
mutation($i: SegmentInput!) { createSegment(input: $i) {
  __typename ... on Forbidden { code message requiredPermission }
  ... on SegmentSuccess { segment { id } }
} }
"""
UPDATE = """
mutation($id: ID!, $i: UpdateSegmentInput!) { updateSegment(id: $id, input: $i) {
  __typename ... on Forbidden { code message requiredPermission }
} }
"""


async def test_segment_rule_on_risk_level_needs_kyc_read(gql, db, settings, auth):
    marketer = await auth.staff_headers("MARKETER")
    risky = {"and": [{"attr": "country", "op": "eq", "value": "DE"},
                     {"attr": "riskLevel", "op": "eq", "value": "HIGH"}]}  # fmt: skip
    body = await gql(CREATE, {"i": {"name": "pep hunt", "rule": risky}}, **marketer)
    refused = body["data"]["createSegment"]
    assert refused["__typename"] == "Forbidden" and refused["requiredPermission"] == "kyc:read"
    assert "riskLevel" in refused["message"] and "$.and[1].attr" in refused["message"]

    existing = await _segment(db, settings, {"attr": "country", "op": "eq", "value": "DE"})
    update = await gql(UPDATE, {"id": str(existing.id), "i": {"rule": risky}}, **marketer)
    assert update["data"]["updateSegment"]["__typename"] == "Forbidden"
    async with db.read_session() as s:
        names = set((await s.execute(select(Segment.name))).scalars())
        stored = (await s.get(Segment, existing.id)).rule
    assert "pep hunt" not in names  # nothing half-written
    assert stored == {"attr": "country", "op": "eq", "value": "DE"}
    refusals = await _audit_rows(db, "graphql.createSegment", None)
    assert [(r.outcome, r.details) for r in refusals] == [("failure", {"code": "FORBIDDEN"})]

    admin = await auth.staff_headers("ADMIN")
    allowed = await gql(CREATE, {"i": {"name": "pep hunt", "rule": risky}}, **admin)
    assert allowed["data"]["createSegment"]["__typename"] == "SegmentSuccess"


SEARCH = "query($s: String) { players(filter: {search: $s}) { totalCount } }"


async def test_search_matches_email_only_for_full_pii_readers(gql, db, settings, auth):
    target = await create_player(db, settings, email="bob.secret@example.org", login="quinn77")
    marketer = await auth.staff_headers("MARKETER")
    support = await auth.staff_headers("SUPPORT")

    async def count(term: str, headers) -> int:
        return (await gql(SEARCH, {"s": term}, **headers))["data"]["players"]["totalCount"]

    # the one-character-at-a-time attack on the masked address finds nothing
    for prefix in ("b", "bo", "bob.", "bob.s", "bob.secret@example.org"):
        assert await count(prefix, marketer) == 0, prefix
    assert await count("bob.secret@", support) == 1
    assert await count("quinn7", marketer) == 1  # login: readable in full
    assert await count(str(target.id), marketer) == 1  # and the id


KYC = """
query($id: ID!) { player(id: $id) {
  kycCases { id status riskLevel pep sanctions score reasons reviewNote reviewedBy }
} }
"""


async def test_player_never_sees_own_aml_screening(gql, db, settings, auth):
    player = await create_player(db, settings)
    async with db.transaction() as s:
        s.add(KycCase(player_id=player.id, provider="sandbox", status="MANUAL_REVIEW",
                      risk_level="HIGH", score=75, pep=True, sanctions=False, documents=[],
                      reasons=["PEP_MATCH"], review_note="pep", reviewed_by="staff:c"))  # fmt: skip
    own = (await gql(KYC, {"id": str(player.id)}, **await auth.player_headers(player)))["data"]
    (case,) = own["player"]["kycCases"]
    assert case["status"] == "MANUAL_REVIEW"
    assert (case["pep"], case["sanctions"], case["score"], case["reasons"]) == (
        None, None, None, [])  # fmt: skip
    assert (case["reviewNote"], case["reviewedBy"]) == (None, None)
    compliance = await auth.staff_headers("COMPLIANCE")
    (staff_case,) = (await gql(KYC, {"id": str(player.id)}, **compliance))["data"]["player"][
        "kycCases"
    ]
    assert (staff_case["pep"], staff_case["score"], staff_case["reasons"]) == (
        True, 75, ["PEP_MATCH"])  # fmt: skip


async def _audit_rows(db, action: str, target: str | None) -> list[AuditEntry]:
    async with db.read_session() as s:
        query = select(AuditEntry).where(AuditEntry.action == action)
        if target is not None:
            query = query.where(AuditEntry.target == target)
        return list((await s.execute(query)).scalars())


async def test_rest_reads_by_staff_are_audited_like_graphql(client, gql, db, settings, auth):
    player = await create_player(db, settings)
    support = await auth.staff_headers("SUPPORT", staff_id="5")
    response = await client.get(f"/players/{player.id}", headers=support)
    assert response.status_code == 200
    (row,) = await _audit_rows(db, "player.read", str(player.id))
    async with db.read_session() as s:
        ip = (await values_of(s, [row.id or 0])).get(row.id or 0, {}).get("ip")
    assert (row.actor, row.outcome, ip) == ("staff:5", "success", "127.0.0.1")
    assert row.request_id == response.headers["x-request-id"]

    await gql("query($id: ID!) { player(id: $id) { id } }", {"id": str(player.id)}, **support)
    assert len(await _audit_rows(db, "player.read", str(player.id))) == 2  # one rule, both APIs

    listed = await client.get("/players", headers=support)
    assert listed.status_code == 200
    (listing,) = await _audit_rows(db, "player.list", None)
    assert str(player.id) in listing.details["ids"]
    # a player's own read is not a staff read: no audit row
    await client.get(f"/players/{player.id}", headers=await auth.player_headers(player))
    async with db.read_session() as s:
        total = (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    assert total == 3
