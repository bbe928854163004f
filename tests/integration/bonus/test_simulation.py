"""simulateBonusCampaign through GraphQL: deposit triggers replayed over the ledger's
history, who would have received what, the cost and the wagering; nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.core.db import Database
from app.players.models import PlayerStatus
from tests.factories import create_player
from tests.integration.exports.helpers import deposit, set_status

SIMULATE = """
query S($input: CreateBonusCampaignInput!, $from: DateTime!, $to: DateTime!) {
  simulateBonusCampaign(input: $input, from: $from, to: $to, first: 10) {
    __typename
    ... on BonusSimulation {
      deposits awardCount players totalCost { amount currency }
      expectedWagering { amount } awards { playerId deposit { amount } bonus { amount } }
    }
    ... on ValidationError { code field message }
    ... on UserError { code message }
  }
}
"""
TABLES = ("bonus_campaigns", "player_bonuses", "ledger_transfers", "outbox_events", "wallets")


def _campaign(**overrides):
    return {
        "name": "Welcome", "kind": "DEPOSIT_MATCH", "trigger": "FIRST_DEPOSIT",
        "currency": "EUR", "percent": "100", "maxAmount": "40.00", "minDeposit": "20.00",
        "countries": ["DE"], "wageringMultiplier": "10", **overrides,
    }  # fmt: skip


async def _counts(db: Database) -> dict[str, object]:
    async with db.transaction() as s:
        found = {t: (await s.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                 for t in TABLES}  # fmt: skip
        found["balances"] = (await s.execute(text("SELECT sum(balance) FROM wallets"))).scalar()
    return found


async def test_a_first_deposit_campaign_replayed_over_history(db: Database, settings, gql, auth):
    a = await create_player(db, settings, country="DE", currency="EUR")
    small = await create_player(db, settings, country="DE", currency="EUR")
    french = await create_player(db, settings, country="FR", currency="EUR")
    blocked = await create_player(db, settings, country="DE", currency="EUR")
    for player, amount in ((a, "50.00"), (a, "30.00"), (small, "10.00"), (french, "100.00"),
                           (blocked, "100.00")):  # fmt: skip
        await deposit(db, settings, player.id, amount, "EUR")
    await set_status(db, blocked.id, PlayerStatus.BLOCKED)
    marketer = await auth.staff_headers("MARKETER")
    window = {"from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
              "to": (datetime.now(UTC) + timedelta(minutes=5)).isoformat()}  # fmt: skip
    before = await _counts(db)

    first = (await gql(SIMULATE, {"input": _campaign(), **window}, **marketer))["data"]
    sim = first["simulateBonusCampaign"]
    assert sim["__typename"] == "BonusSimulation", sim
    # a: 100 % of 50.00 capped at 40.00; small: under the minimum; french: not DE; blocked.
    assert (sim["deposits"], sim["awardCount"], sim["players"]) == (5, 1, 1)
    assert sim["totalCost"] == {"amount": "40.00", "currency": "EUR"}
    assert sim["expectedWagering"]["amount"] == "400.00"
    assert sim["awards"] == [{"playerId": str(a.id), "deposit": {"amount": "50.00"},
                              "bonus": {"amount": "40.00"}}]  # fmt: skip

    every = _campaign(trigger="DEPOSIT", percent="50", maxAmount=None, countries=[],
                      awardLimit="EVERY_OCCURRENCE", wageringBase="BONUS_AND_DEPOSIT")  # fmt: skip
    sim = (await gql(SIMULATE, {"input": every, **window}, **marketer))["data"]
    sim = sim["simulateBonusCampaign"]
    # a: 25.00 + 15.00; french: 50.00; small under the minimum; blocked refused.
    assert (sim["awardCount"], sim["players"], sim["totalCost"]["amount"]) == (3, 2, "90.00")
    assert sim["expectedWagering"]["amount"] == str((90 + 80 + 100) * 10) + ".00"

    assert await _counts(db) == before  # nothing written, not even the campaign


async def test_bad_input_is_typed(db: Database, settings, gql, auth):
    marketer = await auth.staff_headers("MARKETER")
    now = datetime.now(UTC)
    window = {"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()}

    async def answer(input, headers=marketer, **w):
        found = await gql(SIMULATE, {"input": input, **(w or window)}, **headers)
        return found["data"]["simulateBonusCampaign"]

    birthday = await answer(_campaign(trigger="BIRTHDAY", kind="FIXED", fixedAmount="5.00"))
    assert (birthday["__typename"], birthday["field"]) == ("ValidationError", "trigger")
    long = await answer(_campaign(), **{"from": (now - timedelta(days=400)).isoformat(),
                                        "to": now.isoformat()})  # fmt: skip
    assert (long["__typename"], long["field"]) == ("ValidationError", "to")
    backwards = await answer(
        _campaign(), **{"from": now.isoformat(), "to": (now - timedelta(days=1)).isoformat()}
    )
    assert backwards["__typename"] == "ValidationError"
    invalid = await answer(_campaign(percent="5000"))
    assert invalid["__typename"] == "ValidationError"
    finance = await auth.staff_headers("FINANCE")
    assert (await answer(_campaign(), finance))["__typename"] == "Forbidden"
