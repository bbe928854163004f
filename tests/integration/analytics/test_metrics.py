"""Business metrics from real traffic through the API (registrations, KYC callbacks,
deposits, bets, a round rollback, a bonus, two currencies), dated onto known days by
back-dating the outbox rows before the consumer rolls them up, then read through the
``analytics*`` queries and checked against the figures the traffic implies and the
ledger/bonus tables."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text

from app.analytics.consumer import TYPES, consume_events, rebuild
from app.analytics.figures import MEDIAN_RELATIVE_ERROR, months_between
from app.kyc import service as kyc
from pms.asgi import create_app
from tests.auth import Auth
from tests.conftest import GraphQLClient
from tests.e2e.test_register_player import REGISTER
from tests.factories import registration
from tests.integration.bonus.conftest import BonusGQL
from tests.integration.test_kyc_flow import PASSPORT
from tests.integration.wallets.conftest import make_wallet_gql, scalar
from tests.kyc_helpers import signed, with_provider

MONEY = "currency stakes { amount } wins { amount } bonusCost { amount } ggr { amount } " \
        "ngr { amount } depositsCount deposits { amount } averageDeposit { amount } " \
        "withdrawalsCount activePlayers payingPlayers arpu { amount } arppu { amount }"  # fmt: skip
SERIES = f"""
query S($input: AnalyticsSeriesInput!) {{
  analyticsSeries(input: $input) {{
    __typename
    ... on AnalyticsSeries {{ granularity fromDay toDay reportingCurrency periods {{
      start end activePlayers averageDailyActivePlayers stickiness previousActivePlayers
      churnedPlayers churnRate registrations firstDeposits registrationToDepositConversion
      medianSecondsToFirstDeposit registrationFailures registrationErrorRate
      registrationErrors {{ field reason count }} kycDecisions kycVerified kycSuccessRate
      medianKycDecisionSeconds bets rollbacks rollbackRate bonusesAwarded bonusesFulfilled
      bonusConversion payingPlayers money {{ {MONEY} }} reporting {{ {MONEY} }} missingRates
    }} }}
    ... on ValidationError {{ code field message }}
  }}
}}
"""
COHORTS = """
query C($input: AnalyticsCohortsInput!) {
  analyticsCohorts(input: $input) {
    __typename
    ... on AnalyticsCohortTable { currency cohorts { month players missingRates cells {
      monthsSince activePlayers retention netRevenue { amount currency }
      cumulativeNetRevenue { amount } ltv { amount } } } }
    ... on ValidationError { code field message }
  }
}
"""
FUNNEL = """
query F($input: AnalyticsFunnelInput!) {
  analyticsFunnel(input: $input) {
    __typename
    ... on AnalyticsFunnel { fromDay toDay steps { name players conversionFromPrevious
                                                  conversionFromStart } }
    ... on ValidationError { code field message }
  }
}
"""


@pytest.fixture
def analytics_settings(settings):
    return with_provider(settings).model_copy(
        update={"analytics_fx_rates": {"USD": Decimal("0.5")}}
    )


@pytest.fixture
async def world(analytics_settings, db):
    """The app with a KYC provider and a USD rate, its clients and staff headers."""
    app = create_app(analytics_settings, database=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pms.test"
    ) as http:
        yield World(app, http, db, analytics_settings)


class World:
    def __init__(self, app, http, db, settings) -> None:
        self.app, self.http, self.db, self.settings = app, http, db, settings
        self.gql = GraphQLClient(http)
        self.wallet = make_wallet_gql(http, app)
        self.bonus = BonusGQL(self.wallet)
        self.auth = Auth(app)
        self.mark = 0
        self.rounds = 0

    async def at(self, when: str) -> None:
        """Date every event written since the last call at ``when`` (UTC)."""
        async with self.db.transaction() as s:
            at = datetime.fromisoformat(when).replace(tzinfo=UTC)
            await s.execute(text("UPDATE outbox_events SET time = :t WHERE id > :m"),
                            {"t": at, "m": self.mark})  # fmt: skip
            self.mark = (await s.execute(text("SELECT coalesce(max(id), 0) FROM outbox_events"))
                         ).scalar_one()  # fmt: skip

    async def register(self, **fields) -> str:
        body = await self.gql(REGISTER, {"input": registration(**fields)})
        assert body["data"]["registerPlayer"]["__typename"] == "RegisterPlayerSuccess", body
        return body["data"]["registerPlayer"]["player"]["id"]

    async def kyc_case(self, player: str, check: str) -> str:
        async with self.db.transaction() as s:
            case = await kyc.open_case(s, uuid.UUID(player), [PASSPORT], provider="sandbox",
                                       actor="player:x", settings=self.settings)  # fmt: skip
            case.provider_ref = check
        return str(case.id)

    async def kyc_result(self, case: str, check: str, outcome: str) -> None:
        body, headers = signed({"reference": case, "checkId": check, "outcome": outcome,
                                "score": 12})  # fmt: skip
        response = await self.http.post("/kyc/callbacks/sandbox", content=body, headers=headers)
        assert response.status_code == 200, response.text

    async def deposit(self, player: str, amount: str, currency: str = "EUR") -> None:
        await self.wallet.op("deposit", playerId=player, amount=amount, currency=currency,
                             paymentReference="tok_an")  # fmt: skip

    async def bet(self, player: str, stake: str, win: str, currency: str = "EUR") -> str:
        self.rounds += 1
        r = f"r{self.rounds}"
        await self.wallet.op("reserveBet", playerId=player, amount=stake, currency=currency,
                             gameRoundId=r, transactionId=f"b{self.rounds}")  # fmt: skip
        await self.wallet.op("settleBet", playerId=player, gameRoundId=r, winAmount=win,
                             currency=currency, transactionId=f"w{self.rounds}")  # fmt: skip
        return r

    async def query(self, doc: str, variables: dict, role: str = "MARKETER") -> dict:
        body = await self.gql(doc, {"input": variables}, **await self.auth.staff_headers(role))
        assert "errors" not in body, body
        return next(iter(body["data"].values()))


async def traffic(w: World, *, consume: bool = True) -> dict[str, str]:
    """Sep 7 2026 is a Monday. Alice, Bob (DE, google) and Carol (AT, facebook) sign up on
    Sep 7, Dave (DE, facebook, USD) on Oct 5; Bob plays in September only."""
    alice = await w.register(country="DE", trafficSource="google", affiliateCode="aff1")
    bob = await w.register(country="DE", trafficSource="google")
    carol = await w.register(country="AT", trafficSource="facebook")
    email = await scalar(w.db, f"SELECT email FROM players WHERE id = '{alice}'")
    taken = await w.gql(REGISTER, {"input": registration(login="fresh1", email=email)})
    assert taken["data"]["registerPlayer"]["__typename"] == "AlreadyExists"
    broken = await w.gql(REGISTER, {"input": registration(email="broken")})
    assert broken["data"]["registerPlayer"]["__typename"] == "ValidationError"
    await w.at("2026-09-07 10:00")
    case_a, case_c = await w.kyc_case(alice, "chk_a"), await w.kyc_case(carol, "chk_c")
    await w.at("2026-09-07 11:00")
    await w.deposit(alice, "100.00")
    await w.at("2026-09-07 12:00")
    await w.kyc_result(case_a, "chk_a", "verified")
    await w.at("2026-09-07 13:00")
    await w.deposit(bob, "20.00")
    await w.at("2026-09-08 10:00")
    await w.kyc_result(case_c, "chk_c", "rejected")
    await w.at("2026-09-09 15:00")
    await w.bet(alice, "10.00", "4.00")
    await w.bet(bob, "5.00", "0")
    await w.at("2026-09-09 16:00")
    undone = await w.bet(alice, "10.00", "0")
    await w.wallet.op("rollbackRound", playerId=alice, gameRoundId=undone, transactionId="rb1")
    await w.at("2026-09-10 16:00")
    dave = await w.register(country="DE", currency="USD", trafficSource="facebook")
    await w.at("2026-10-05 09:00")
    await w.deposit(dave, "50.00", "USD")
    await w.bet(dave, "10.00", "2.00", "USD")
    campaign = await w.bonus.campaign(kind="FIXED", trigger="MANUAL", fixedAmount="5.00",
                                      wageringMultiplier="1")  # fmt: skip
    await w.bonus.op("grantBonus", campaignId=campaign["id"], playerId=alice)
    await w.bet(alice, "20.00", "10.00")
    await w.at("2026-10-05 10:00")
    if consume:
        assert await consume_events(w.db, w.settings) > 0
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


def approx(seconds: float) -> object:
    """A median from the duration histograms: within the documented precision."""
    return pytest.approx(seconds, rel=MEDIAN_RELATIVE_ERROR)


def amounts(money: dict) -> dict:
    return {k: (v["amount"] if isinstance(v, dict) else v) for k, v in money.items()}


async def test_monthly_series_per_currency_and_in_the_reporting_currency(world):
    await traffic(world)
    released = await scalar(world.db, "SELECT released FROM player_bonuses")
    assert released == 500  # the bonus cost, as the bonus engine booked it

    s = await world.query(SERIES, {"granularity": "MONTH", "fromDay": "2026-09-15",
                                   "toDay": "2026-10-02"})  # fmt: skip
    assert (s["__typename"], s["fromDay"], s["toDay"], s["reportingCurrency"]) == (
        "AnalyticsSeries", "2026-09-01", "2026-10-31", "EUR")  # fmt: skip
    sep, oct_ = s["periods"]

    assert (sep["start"], sep["end"]) == ("2026-09-01", "2026-09-30")
    assert {k: sep[k] for k in (
        "activePlayers", "previousActivePlayers", "churnedPlayers", "churnRate",
        "registrations", "firstDeposits", "medianSecondsToFirstDeposit",
        "registrationFailures", "registrationErrorRate", "kycDecisions", "kycVerified",
        "kycSuccessRate", "medianKycDecisionSeconds", "bets", "rollbacks", "bonusesAwarded",
        "payingPlayers", "missingRates")} == {
        "activePlayers": 2, "previousActivePlayers": 0, "churnedPlayers": 0, "churnRate": None,
        "registrations": 3, "firstDeposits": 2,
        "medianSecondsToFirstDeposit": approx((7200 + 86400) / 2),  # alice 2 h, bob 24 h
        "registrationFailures": 2, "registrationErrorRate": 2 / 5,
        "kycDecisions": 2, "kycVerified": 1, "kycSuccessRate": 0.5,
        "medianKycDecisionSeconds": approx((7200 + 187200) / 2),  # alice 2 h, carol 52 h
        "bets": 3, "rollbacks": 1, "bonusesAwarded": 0, "payingPlayers": 2, "missingRates": [],
    }  # fmt: skip
    assert sep["registrationToDepositConversion"] == pytest.approx(2 / 3)
    assert sep["rollbackRate"] == pytest.approx(1 / 3)
    assert sep["averageDailyActivePlayers"] == pytest.approx(3 / 30)  # 3 player-days
    assert sep["stickiness"] == pytest.approx(3 / 30 / 2)
    assert sep["registrationErrors"] == [
        {"field": "email", "reason": "is already registered", "count": 1},
        {"field": "email", "reason": "is not a valid email address", "count": 1},
    ]
    eur_sep = {"currency": "EUR", "stakes": "15.00", "wins": "4.00", "bonusCost": "0.00",
               "ggr": "11.00", "ngr": "11.00", "depositsCount": 2, "deposits": "120.00",
               "averageDeposit": "60.00", "withdrawalsCount": 0, "activePlayers": 2,
               "payingPlayers": 2, "arpu": "5.50", "arppu": "5.50"}  # fmt: skip
    assert [amounts(m) for m in sep["money"]] == [eur_sep]
    assert amounts(sep["reporting"]) == eur_sep

    assert {k: oct_[k] for k in (
        "activePlayers", "previousActivePlayers", "churnedPlayers", "churnRate",
        "registrations", "firstDeposits", "medianSecondsToFirstDeposit", "kycDecisions",
        "kycSuccessRate", "bets", "rollbacks", "rollbackRate", "bonusesAwarded",
        "bonusesFulfilled", "bonusConversion", "registrationFailures",
        "registrationErrorRate")} == {
        "activePlayers": 2, "previousActivePlayers": 2, "churnedPlayers": 1, "churnRate": 0.5,
        "registrations": 1, "firstDeposits": 1, "medianSecondsToFirstDeposit": approx(3600.0),
        "kycDecisions": 0, "kycSuccessRate": None, "bets": 2, "rollbacks": 0,
        "rollbackRate": 0.0, "bonusesAwarded": 1, "bonusesFulfilled": 1,
        "bonusConversion": 1.0, "registrationFailures": 0, "registrationErrorRate": 0.0,
    }  # fmt: skip
    assert [amounts(m) for m in oct_["money"]] == [
        {"currency": "EUR", "stakes": "20.00", "wins": "10.00", "bonusCost": "5.00",
         "ggr": "10.00", "ngr": "5.00", "depositsCount": 0, "deposits": "0.00",
         "averageDeposit": None, "withdrawalsCount": 0, "activePlayers": 1,
         "payingPlayers": 0, "arpu": "5.00", "arppu": None},
        {"currency": "USD", "stakes": "10.00", "wins": "2.00", "bonusCost": "0.00",
         "ggr": "8.00", "ngr": "8.00", "depositsCount": 1, "deposits": "50.00",
         "averageDeposit": "50.00", "withdrawalsCount": 0, "activePlayers": 1,
         "payingPlayers": 1, "arpu": "8.00", "arppu": "8.00"},
    ]  # fmt: skip
    # USD at 0.5: 20 + 5 staked, 10 + 1 won, 5 bonus cost -> NGR 9.00 over 2 active, 1 paying
    assert amounts(oct_["reporting"]) == {
        "currency": "EUR", "stakes": "25.00", "wins": "11.00", "bonusCost": "5.00",
        "ggr": "14.00", "ngr": "9.00", "depositsCount": 1, "deposits": "25.00",
        "averageDeposit": "25.00", "withdrawalsCount": 0, "activePlayers": 2,
        "payingPlayers": 1, "arpu": "4.50", "arppu": "9.00",
    }  # fmt: skip

    # The rollups agree with the ledger: stakes of the settled, not rolled back rounds.
    ledger_stakes = await scalar(
        world.db,
        "SELECT sum(stake_real + stake_bonus) FROM game_rounds "
        "WHERE status = 'SETTLED' AND currency = 'EUR'",
    )
    assert ledger_stakes == 1500 + 2000


async def test_daily_and_weekly_series_count_distinct_players_and_churn(world):
    await traffic(world)
    days = await world.query(SERIES, {"granularity": "DAY", "fromDay": "2026-09-09",
                                      "toDay": "2026-09-10"})  # fmt: skip
    got = [(p["start"], p["activePlayers"], p["previousActivePlayers"], p["churnedPlayers"],
            p["stickiness"]) for p in days["periods"]]  # fmt: skip
    assert got == [("2026-09-09", 2, 0, 0, 1.0), ("2026-09-10", 1, 2, 1, 1.0)]

    week = await world.query(SERIES, {"granularity": "WEEK", "fromDay": "2026-09-09",
                                      "toDay": "2026-09-09"})  # fmt: skip
    (p,) = week["periods"]
    assert (p["start"], p["end"], p["activePlayers"], p["registrations"], p["bets"]) == (
        "2026-09-07", "2026-09-13", 2, 3, 3)  # fmt: skip
    assert p["averageDailyActivePlayers"] == pytest.approx(3 / 7)


async def test_filters_by_country_source_affiliate_and_segment(world):
    players = await traffic(world)
    marketer = await world.auth.staff_headers("MARKETER")
    body = await world.gql(
        "mutation($n: String!) { createSegment(input: {name: $n, kind: STATIC}) { "
        "... on SegmentSuccess { segment { id } } } }",
        {"n": "analytics vip"},
        **marketer,
    )
    segment = body["data"]["createSegment"]["segment"]["id"]
    body = await world.gql(
        "mutation($s: ID!, $p: [ID!]!) { addStaticSegmentMembers(id: $s, playerIds: $p) { "
        "__typename } }",
        {"s": segment, "p": [players["alice"], players["dave"]]},
        **marketer,
    )
    assert body["data"]["addStaticSegmentMembers"]["__typename"] == "SegmentSuccess"
    await consume_events(world.db, world.settings)

    async def months(**flt):
        s = await world.query(SERIES, {"granularity": "MONTH", "fromDay": "2026-09-01",
                                       "toDay": "2026-10-31", "filter": flt})  # fmt: skip
        return [(p["registrations"], p["activePlayers"], p["churnedPlayers"],
                 p["kycDecisions"], p["registrationFailures"],
                 [(m["currency"], m["ngr"]["amount"]) for m in p["money"]])
                for p in s["periods"]]  # fmt: skip

    assert await months(country="DE") == [
        (2, 2, 0, 1, None, [("EUR", "11.00")]),
        (1, 2, 1, 0, None, [("EUR", "5.00"), ("USD", "8.00")]),
    ]
    assert await months(trafficSource="facebook") == [
        (1, 0, 0, 1, None, []),
        (1, 1, 0, 0, None, [("USD", "8.00")]),
    ]
    assert await months(affiliateCode="aff1") == [
        (1, 1, 0, 1, None, [("EUR", "6.00")]),
        (0, 1, 0, 0, None, [("EUR", "5.00")]),
    ]
    assert await months(segmentId=segment) == [
        (1, 1, 0, 1, None, [("EUR", "6.00")]),
        (1, 2, 0, 0, None, [("EUR", "5.00"), ("USD", "8.00")]),
    ]


async def test_cohorts_give_retention_revenue_and_ltv_per_registration_month(world):
    await traffic(world)
    t = await world.query(COHORTS, {"fromMonth": "2026-09-01", "toMonth": "2026-10-31"})
    assert t["currency"] == "EUR"
    sep, oct_ = t["cohorts"]
    now = datetime.now(UTC).date()
    assert len(sep["cells"]) == months_between(date(2026, 9, 1), now) + 1
    cells = [
        (c["monthsSince"], c["activePlayers"], c["netRevenue"]["amount"],
         c["cumulativeNetRevenue"]["amount"], c["ltv"]["amount"])
        for c in sep["cells"]
    ]  # fmt: skip
    assert (sep["month"], sep["players"]) == ("2026-09-01", 3)
    assert cells[:3] == [(0, 2, "11.00", "11.00", "3.67"), (1, 1, "5.00", "16.00", "5.33"),
                         (2, 0, "0.00", "16.00", "5.33")]  # fmt: skip
    assert sep["cells"][0]["retention"] == pytest.approx(2 / 3)
    assert (oct_["month"], oct_["players"], oct_["cells"][0]["ltv"]["amount"]) == (
        "2026-10-01",
        1,
        "4.00",
    )  # dave's 8.00 USD at 0.5

    usd = await world.query(COHORTS, {"fromMonth": "2026-10-01", "toMonth": "2026-10-01",
                                      "currency": "USD"})  # fmt: skip
    assert usd["cohorts"][0]["cells"][0]["netRevenue"] == {"amount": "8.00", "currency": "USD"}


async def test_funnel_from_registration_to_first_bet(world):
    await traffic(world)
    f = await world.query(FUNNEL, {"fromDay": "2026-09-01", "toDay": "2026-09-30"})
    assert [(s["name"], s["players"]) for s in f["steps"]] == [
        ("REGISTERED", 3),
        ("KYC_VERIFIED", 1),
        ("FIRST_DEPOSIT", 1),
        ("FIRST_BET", 1),
    ]
    assert [s["conversionFromPrevious"] for s in f["steps"]] == [None, 1 / 3, 1.0, 1.0]


async def test_concurrent_consumers_a_second_pass_and_a_rebuild_give_the_same_answers(world):
    await traffic(world, consume=False)
    # Four replicas' consumers at once: one holds the cursor per pass, each event counts once.
    passes = await asyncio.gather(*(consume_events(world.db, world.settings) for _ in range(4)))
    applied = sum(passes)
    while more := await consume_events(world.db, world.settings):
        applied += more
    events = await scalar(world.db, "SELECT count(*) FROM outbox_events WHERE type = ANY(:t)",
                          t=list(TYPES))  # fmt: skip
    assert applied == events > 20  # every event applied exactly once, whoever ran it
    variables = {"granularity": "DAY", "fromDay": "2026-09-01", "toDay": "2026-10-31"}
    first = await world.query(SERIES, variables)
    bets = sum(p["bets"] for p in first["periods"])
    assert bets == await scalar(world.db, "SELECT count(*) FROM outbox_events "
                                "WHERE type = 'bet.settled'") == 5  # fmt: skip
    assert await consume_events(world.db, world.settings) == 0
    assert await world.query(SERIES, variables) == first
    assert await rebuild(world.db, world.settings) == events
    assert await world.query(SERIES, variables) == first


async def test_bad_input_is_a_typed_error_and_needs_analytics_read(world):
    base = {"granularity": "DAY", "fromDay": "2026-01-01", "toDay": "2026-01-31"}
    cases = [
        (SERIES, {**base, "fromDay": "2026-02-01"}, "toDay"),
        (SERIES, {**base, "fromDay": "2024-01-01"}, "toDay"),  # over the maximum span
        (SERIES, {**base, "currency": "euro"}, "currency"),
        (SERIES, {**base, "filter": {"segmentId": str(uuid.uuid4())}}, "segmentId"),
        (SERIES, {**base, "filter": {"segmentId": "42; DROP"}}, "segmentId"),
        (SERIES, {**base, "filter": {"country": "de"}}, "country"),
        (SERIES, {**base, "filter": {"trafficSource": "a b"}}, "trafficSource"),
        (COHORTS, {"fromMonth": "2026-05-01", "toMonth": "2026-01-01"}, "toDay"),
        (FUNNEL, {"fromDay": "2020-01-01", "toDay": "2026-01-01"}, "toDay"),
    ]
    for doc, variables, field in cases:
        result = await world.query(doc, variables)
        assert (result["__typename"], result["code"], result["field"]) == (
            "ValidationError", "VALIDATION_ERROR", field), variables  # fmt: skip

    support = await world.auth.staff_headers("SUPPORT")
    denied = await world.gql(SERIES, {"input": base}, **support)
    assert denied["data"] is None or denied["data"]["analyticsSeries"] is None
    assert denied["errors"]
    unknown = await world.gql(SERIES, {"input": {**base, "granularity": "YEAR"}},
                              **await world.auth.staff_headers("ADMIN"))  # fmt: skip
    assert unknown["data"] is None and "AnalyticsGranularity" in unknown["errors"][0]["message"]
    assert await scalar(world.db, "SELECT count(*) FROM analytics_player_days") == 0
