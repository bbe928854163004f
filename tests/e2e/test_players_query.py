"""player / players queries, pagination and the wallets DataLoader."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import count_statements
from tests.factories import create_player


@pytest.fixture
async def staff_gql(gql, auth):
    """Queries as a SUPPORT staff member: sees profiles, contact data and balances."""
    headers = await auth.staff_headers("SUPPORT")

    async def run(query, variables=None):
        return await gql(query, variables, **headers)

    return run


PLAYER = """
query($id: ID!) { player(id: $id) { id login email country currency status vipLevel
                                   preferences createdAt wallets { kind } } }
"""

PLAYERS = """
query($filter: PlayerFilter, $first: Int!, $after: String) {
  players(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id login country status } }
  }
}
"""

PLAYERS_WITH_WALLETS = """
query { players(first: 50) { edges { node { id wallets { kind balance { amount } } } } } }
"""


async def test_player_by_id_returns_profile(staff_gql, db, settings):
    row = await create_player(db, settings, login="Lucky7", country="AT")

    body = await staff_gql(PLAYER, {"id": str(row.id)})

    player = body["data"]["player"]
    assert player["id"] == str(row.id)
    assert (player["login"], player["country"], player["currency"]) == ("Lucky7", "AT", "EUR")
    assert player["preferences"] == {}
    assert sorted(w["kind"] for w in player["wallets"]) == [
        "BONUS", "FREESPINS", "REAL", "TOURNAMENT",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "player_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown", "malformed"]
)
async def test_unknown_player_is_null(staff_gql, db, player_id):
    body = await staff_gql(PLAYER, {"id": player_id})

    assert body == {"data": {"player": None}}


async def test_pages_walk_all_players_once_in_stable_order(staff_gql, db, settings):
    created = [await create_player(db, settings) for _ in range(7)]

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await staff_gql(PLAYERS, {"first": 3, "after": after})
        connection = body["data"]["players"]
        assert connection["totalCount"] == 7
        assert connection["pageInfo"]["hasPreviousPage"] == (after is not None)
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert pages == 3
    assert seen == [str(p.id) for p in reversed(created)]  # newest first, each exactly once


async def test_filter_by_country_status_and_search(staff_gql, db, settings):
    await create_player(db, settings, country="DE", login="berlin_bear")
    await create_player(db, settings, country="AT", login="vienna_wolf", email="wolf@example.at")
    await create_player(db, settings, country="AT", login="graz_fox")

    by_country = await staff_gql(PLAYERS, {"first": 10, "filter": {"country": "AT"}})
    by_search = await staff_gql(PLAYERS, {"first": 10, "filter": {"search": "WOLF@"}})
    by_status = await staff_gql(PLAYERS, {"first": 10, "filter": {"status": "BLOCKED"}})
    wildcard = await staff_gql(PLAYERS, {"first": 10, "filter": {"search": "%"}})

    assert by_country["data"]["players"]["totalCount"] == 2
    assert {e["node"]["login"] for e in by_country["data"]["players"]["edges"]} == {
        "vienna_wolf", "graz_fox",
    }  # fmt: skip
    assert [e["node"]["login"] for e in by_search["data"]["players"]["edges"]] == ["vienna_wolf"]
    assert by_status["data"]["players"]["totalCount"] == 0
    assert wildcard["data"]["players"]["totalCount"] == 0  # % is matched literally


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 0}, "first must be between 1 and 100"),
        ({"first": 101}, "first must be between 1 and 100"),
        ({"first": 5, "after": "garbage!"}, "invalid cursor"),
        ({"first": 5, "after": "WyJ4Il0="}, "invalid cursor"),  # base64 of ["x"]
    ],
)
async def test_bad_page_arguments_are_clear_errors(staff_gql, db, variables, message):
    body = await staff_gql(PLAYERS, variables)

    assert body["data"] is None
    assert body["errors"][0]["message"] == message


async def test_fifty_players_with_wallets_take_a_bounded_number_of_statements(
    staff_gql, db, settings
):
    for _ in range(50):
        await create_player(db, settings)

    with count_statements(db) as statements:
        body = await staff_gql(PLAYERS_WITH_WALLETS)

    nodes = [edge["node"] for edge in body["data"]["players"]["edges"]]
    assert len(nodes) == 50
    assert all(len(node["wallets"]) == 4 for node in nodes)
    # one page query, one count, ONE batched wallets query: not 50 of them.
    # Constant, whatever the page size: the token's revocation check, the page, the count,
    # ONE audit row for the staff read of the list, and ONE batched wallets query.
    kinds = [" ".join(s.split()[:4]) for s in statements]
    assert len(statements) == 5, kinds
    assert sum("FROM wallets" in s for s in statements) == 1
    assert sum(s.startswith("INSERT INTO audit_log") for s in statements) == 1


PROFILE = """
query($id: ID!) { player(id: $id) { id login ...related } }
fragment related on Player { wallets { kind balance { amount } } segments { name } }
"""


async def _with_segment(db, player_id, name="vip"):
    from app.segments import service as segments
    from app.segments.models import SegmentKind

    async with db.transaction() as session:
        segment, _ = await segments.create_segment(
            session, name=name, rule=None, actor="staff:t", kind=SegmentKind.STATIC
        )
        await segments.add_static_members(session, segment.id, [player_id])


async def test_player_with_wallets_and_segments_is_one_statement(gql, auth, db, settings):
    """player(id) asking for wallets and segments (here through a fragment) reads all
    three in ONE statement, and the player reading themselves writes no audit row."""
    row = await create_player(db, settings)
    await _with_segment(db, row.id)
    headers = await auth.player_headers(row)
    await gql(PROFILE, {"id": str(row.id)}, **headers)  # the token's revocation is cached

    with count_statements(db) as statements:
        body = await gql(PROFILE, {"id": str(row.id)}, **headers)

    player = body["data"]["player"]
    assert player["id"] == str(row.id)
    assert sorted(w["kind"] for w in player["wallets"]) == [
        "BONUS", "FREESPINS", "REAL", "TOURNAMENT",
    ]  # fmt: skip
    assert player["segments"] == [{"name": "vip"}]
    assert len(statements) == 1, statements
    assert "FROM wallets" in statements[0] and "FROM segment_members" in statements[0]


async def test_one_statement_player_read_keeps_each_field_rule_and_the_staff_audit(
    gql, auth, db, settings
):
    """What the one statement read is not what the caller sees: a service with only
    player:read gets no wallets and no segments; a staff read still writes player.read."""
    row = await create_player(db, settings)
    await _with_segment(db, row.id)

    reader = await auth.service_headers("player:read", client_id="profile-reader")
    body = await gql(PROFILE, {"id": str(row.id)}, **reader)
    assert body["data"]["player"]["wallets"] == []  # a denied list is empty
    assert body["data"]["player"]["segments"] == []

    staff = await auth.staff_headers("SUPPORT")
    with count_statements(db) as statements:
        body = await gql(PROFILE, {"id": str(row.id)}, **staff)
    assert len(body["data"]["player"]["wallets"]) == 4
    assert body["data"]["player"]["segments"] == [{"name": "vip"}]
    audits = [s for s in statements if s.startswith("INSERT INTO audit_log")]
    assert len(audits) == 1


async def test_unknown_player_with_related_fields_is_null(staff_gql):
    body = await staff_gql(PROFILE, {"id": str(uuid.uuid4())})
    assert body["data"]["player"] is None
