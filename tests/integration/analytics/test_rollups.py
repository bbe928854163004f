"""Analytics rollups from real traffic through the API: each committed event counted
once however often the consumer runs, and a rebuild reproduces the same figures."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from app.analytics.consumer import consume_events, rebuild
from tests.e2e.test_register_player import REGISTER
from tests.factories import registration
from tests.integration.wallets.conftest import make_wallet_gql


async def rows(db, sql: str) -> list[tuple]:
    async with db.read_session() as session:
        return [tuple(r) for r in (await session.execute(text(sql))).all()]


async def snapshot(db) -> dict[str, list[tuple]]:
    return {
        "money": await rows(db, "SELECT day, currency, deposits_count, deposits_minor, "
                                "withdrawals_count, withdrawals_minor, bets_count, "
                                "stakes_minor, wins_minor FROM analytics_daily_money "
                                "ORDER BY 1, 2"),
        "active": await rows(db, "SELECT day, player_id FROM analytics_active_players "
                                 "ORDER BY 1, 2"),
        "registrations": await rows(db, "SELECT day, country, registrations FROM "
                                        "analytics_daily_registrations ORDER BY 1, 2"),
        "counts": await rows(db, "SELECT day, name, count FROM analytics_daily_counts "
                                 "ORDER BY 1, 2"),
    }  # fmt: skip


async def traffic(gql, client, app, db) -> tuple[str, str]:
    players = []
    for country in ("DE", "DE", "AT"):
        body = await gql(REGISTER, {"input": registration(country=country)})
        players.append(body["data"]["registerPlayer"]["player"]["id"])
    failed = await gql(REGISTER, {"input": registration(email="broken")})
    assert failed["data"]["registerPlayer"]["__typename"] == "ValidationError"
    wallet = make_wallet_gql(client, app)
    alice, bob = players[0], players[1]
    for player, amount in ((alice, "100.00"), (alice, "50.00"), (bob, "20.00")):
        await wallet.op("deposit", playerId=player, amount=amount, currency="EUR",
                        paymentReference="tok_an")  # fmt: skip
    await wallet.op("reserveBet", playerId=alice, amount="10.00", currency="EUR",
                    gameRoundId="r1", transactionId="b1")  # fmt: skip
    await wallet.op("settleBet", playerId=alice, gameRoundId="r1", winAmount="4.00",
                    currency="EUR", transactionId="w1")  # fmt: skip
    await wallet.op("rollbackRound", playerId=alice, gameRoundId="r1", transactionId="rb1")
    return alice, bob


async def test_events_roll_up_once_and_a_rebuild_gives_the_same_figures(gql, client, app, db):
    alice, _ = await traffic(gql, client, app, db)
    today = datetime.now(UTC).date()

    assert await consume_events(db, None) > 0
    first = await snapshot(db)
    assert first["money"] == [(today, "EUR", 3, 17000, 0, 0, 1, 1000, 400)]
    assert [str(p) for _, p in first["active"]] == [alice]
    assert first["registrations"] == [(today, "AT", 1), (today, "DE", 2)]
    assert first["counts"] == [(today, "bet.rolled_back", 1),
                               (today, "player.registration_failed", 1)]  # fmt: skip

    assert await consume_events(db, None) == 0  # nothing new: nothing counted twice
    assert await snapshot(db) == first

    applied = await rebuild(db, None)
    assert applied >= 7  # 3 registrations, 3 deposits, 1 settlement, 1 rollback
    assert await snapshot(db) == first


async def test_rebuild_on_an_empty_outbox_leaves_empty_rollups(db):
    assert await rebuild(db, None) == 0
    assert await snapshot(db) == {"money": [], "active": [], "registrations": [], "counts": []}


DAILY = """
query D($f: Date!, $t: Date!, $c: String!) {
  analyticsDaily(fromDay: $f, toDay: $t, currency: $c) {
    __typename
    ... on AnalyticsDailySeries { currency days { day depositsCount deposits { amount currency }
      betsCount stakes { amount } wins { amount } ggr { amount } activePlayers registrations
      rollbacks withdrawalsCount } }
    ... on ValidationError { code field message }
  }
}
"""


async def test_analytics_daily_query_reads_the_rollups(gql, client, app, db, auth):
    await traffic(gql, client, app, db)
    await consume_events(db, None)
    today = datetime.now(UTC).date()
    yesterday = today.fromordinal(today.toordinal() - 1)
    marketer = await auth.staff_headers("MARKETER")

    body = await gql(DAILY, {"f": yesterday.isoformat(), "t": today.isoformat(), "c": "EUR"},
                     **marketer)  # fmt: skip
    series = body["data"]["analyticsDaily"]
    assert series["__typename"] == "AnalyticsDailySeries"
    empty, figures = series["days"]
    assert empty == {"day": yesterday.isoformat(), "depositsCount": 0,
                     "deposits": {"amount": "0.00", "currency": "EUR"}, "betsCount": 0,
                     "stakes": {"amount": "0.00"}, "wins": {"amount": "0.00"},
                     "ggr": {"amount": "0.00"}, "activePlayers": 0, "registrations": 0,
                     "rollbacks": 0, "withdrawalsCount": 0}  # fmt: skip
    assert figures == {"day": today.isoformat(), "depositsCount": 3,
                       "deposits": {"amount": "170.00", "currency": "EUR"}, "betsCount": 1,
                       "stakes": {"amount": "10.00"}, "wins": {"amount": "4.00"},
                       "ggr": {"amount": "6.00"}, "activePlayers": 1, "registrations": 3,
                       "rollbacks": 1, "withdrawalsCount": 0}  # fmt: skip


async def test_analytics_bad_input_is_a_typed_error_and_needs_the_permission(gql, auth):
    marketer = await auth.staff_headers("MARKETER")
    cases = [
        ({"f": "2026-02-01", "t": "2026-01-01", "c": "EUR"}, "toDay"),
        ({"f": "2024-01-01", "t": "2026-01-01", "c": "EUR"}, "toDay"),
        ({"f": "2026-01-01", "t": "2026-01-02", "c": "euro"}, "currency"),
    ]
    for variables, field in cases:
        result = (await gql(DAILY, variables, **marketer))["data"]["analyticsDaily"]
        assert (result["__typename"], result["code"], result["field"]) == (
            "ValidationError",
            "VALIDATION_ERROR",
            field,
        ), variables

    support = await auth.staff_headers("SUPPORT")
    denied = await gql(DAILY, {"f": "2026-01-01", "t": "2026-01-02", "c": "EUR"}, **support)
    assert denied["data"] is None or denied["data"]["analyticsDaily"] is None
    assert denied["errors"]
