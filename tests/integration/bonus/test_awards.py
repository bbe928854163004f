"""Campaigns and awards through GraphQL: validation, deposit triggers, grants, refusals."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.bonus.conftest import DEPOSIT_MATCH, MARKETER
from tests.integration.wallets.conftest import assert_ledger_consistent, scalar, wallets_of


async def deposit(gql, player, amount, **extra):
    return await gql.op("deposit", playerId=player, amount=amount, currency="EUR",
                        paymentReference="tok_1", **extra)  # fmt: skip


async def test_first_deposit_match_pays_bonus_money_with_its_wagering(
    bonus_gql, db, player_factory
):
    campaign = await bonus_gql.campaign(**DEPOSIT_MATCH)
    player = await player_factory()

    await deposit(bonus_gql, player, "50.00")
    await deposit(bonus_gql, player, "50.00")

    wallets = await wallets_of(db, player)
    assert (wallets["REAL"]["balance"], wallets["BONUS"]["balance"]) == (10000, 5000)
    row = await scalar(db, "SELECT amount || '/' || wagering_required || '/' || status "
                           "FROM player_bonuses WHERE campaign_id = :c",
                       c=int(campaign["id"]))  # fmt: skip
    assert row == "5000/50000/ACTIVE"
    entries = await scalar(
        db, "SELECT string_agg(kind || ':' || house_account || ':' || amount, ',') "
        "FROM ledger_transfers WHERE kind = 'BONUS_AWARD'",
    )  # fmt: skip
    assert entries == "BONUS_AWARD:BONUS_LIABILITY:5000"
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'bonus.awarded'") == 1
    await assert_ledger_consistent(db)


@pytest.mark.race
async def test_first_deposit_awarded_once_under_20_concurrent_deposits(
    isolated_bonus_gql, db, player_factory
):
    gql = isolated_bonus_gql
    await gql.campaign(**DEPOSIT_MATCH)
    player = await player_factory()

    results = await asyncio.gather(*(deposit(gql, player, f"{20 + i}.00") for i in range(20)))

    assert all(r["__typename"] == "WalletOperation" for r in results)
    assert await scalar(db, "SELECT count(*) FROM player_bonuses") == 1
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers WHERE kind = 'BONUS_AWARD'") == 1
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'bonus.awarded'") == 1
    # The bonus matches whichever deposit committed first.
    first = await scalar(db, "SELECT amount FROM ledger_transfers WHERE kind = 'DEPOSIT' "
                             "ORDER BY id LIMIT 1")  # fmt: skip
    assert (await wallets_of(db, player))["BONUS"]["balance"] == first
    await assert_ledger_consistent(db)


async def test_promo_code_deposit_awards_per_deposit_and_not_without_the_code(
    bonus_gql, db, player_factory
):
    await bonus_gql.campaign(kind="DEPOSIT_MATCH", trigger="DEPOSIT", percent="50",
                             promoCode="RELOAD50", awardLimit="EVERY_OCCURRENCE",
                             wageringMultiplier="5")  # fmt: skip
    player = await player_factory()

    await deposit(bonus_gql, player, "20.00", promoCode="reload50")
    await deposit(bonus_gql, player, "20.00")
    await deposit(bonus_gql, player, "40.00", promoCode="RELOAD50")

    assert (await wallets_of(db, player))["BONUS"]["balance"] == 1000 + 2000
    assert await scalar(db, "SELECT count(*) FROM player_bonuses") == 2


async def test_paused_campaign_awards_nothing_until_resumed(bonus_gql, db, player_factory):
    campaign = await bonus_gql.campaign(**DEPOSIT_MATCH)
    paused = await bonus_gql.status("pauseBonusCampaign", campaign["id"])
    assert paused["status"] == "PAUSED"
    player = await player_factory()

    await deposit(bonus_gql, player, "50.00")

    assert await scalar(db, "SELECT count(*) FROM player_bonuses") == 0
    resumed = await bonus_gql.status("resumeBonusCampaign", campaign["id"])
    assert resumed["status"] == "ACTIVE"


BAD_CAMPAIGNS = [
    ({**DEPOSIT_MATCH, "percent": "-5"}, "percent"),
    ({**DEPOSIT_MATCH, "percent": "1500"}, "percent"),
    ({**DEPOSIT_MATCH, "percent": "abc"}, "percent"),
    ({**DEPOSIT_MATCH, "maxAmount": "5.00", "minDeposit": "10.00"}, "maxAmount"),
    ({**DEPOSIT_MATCH, "contributions": [{"category": "roulette-x", "percent": "50"}]},
     "contributions"),
    ({**DEPOSIT_MATCH, "contributions": [{"category": "table", "percent": "150"}]},
     "contributions"),
    ({**DEPOSIT_MATCH, "segmentIds": ["no-such-segment"]}, "segmentIds"),
    ({**DEPOSIT_MATCH, "countries": ["XX"]}, "countries"),
    ({**DEPOSIT_MATCH, "wageringMultiplier": "5000"}, "wageringMultiplier"),
    ({"kind": "DEPOSIT_MATCH", "trigger": "DEPOSIT", "percent": "50", "promoCode": "OLD",
      "promoExpiresAt": "2020-01-01T00:00:00+00:00"}, "promoExpiresAt"),
    ({"kind": "CASHBACK", "trigger": "CASHBACK_PERIOD", "percent": "150"}, "percent"),
    ({"kind": "FREE_SPINS", "trigger": "MANUAL", "freeSpins": 10}, "spinStake"),
    ({"kind": "LOYALTY_TIER", "trigger": "LOYALTY_TIER_REACHED", "fixedAmount": "5.00",
      "loyaltyTier": "DIAMOND"}, "loyaltyTier"),
    ({"kind": "FIXED", "trigger": "MANUAL", "fixedAmount": "5.001"}, "fixedAmount"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "field"), BAD_CAMPAIGNS)
async def test_bad_campaigns_are_typed_errors_and_nothing_is_saved(bonus_gql, db, fields, field):
    result = await bonus_gql.campaign(**fields)

    assert result["__typename"] == "ValidationError", result
    assert field in [e["field"] for e in result["fieldErrors"]]
    assert await scalar(db, "SELECT count(*) FROM bonus_campaigns") == 0


@pytest.mark.parametrize("status", ["BLOCKED", "SELF_EXCLUDED"])
async def test_grants_to_blocked_players_are_refused_and_nothing_awarded(
    bonus_gql, db, player_factory, status
):
    campaign = await bonus_gql.campaign(kind="FIXED", trigger="MANUAL", fixedAmount="10.00",
                                        wageringMultiplier="5")  # fmt: skip
    player = await player_factory()
    async with db.transaction() as session:
        from sqlalchemy import text

        await session.execute(text("UPDATE players SET status = :s"), {"s": status})

    result = await bonus_gql.op("grantBonus", campaignId=campaign["id"], playerId=player)

    assert result["__typename"] == "AccountBlocked"
    assert await scalar(db, "SELECT count(*) FROM player_bonuses") == 0
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers") == 0
    assert await scalar(db, "SELECT count(*) FROM idempotency_keys") == 0


async def test_ineligible_country_and_second_once_per_player_grant_are_typed_errors(
    bonus_gql, db, player_factory
):
    fixed = {"kind": "FIXED", "trigger": "MANUAL", "fixedAmount": "10.00"}
    uk_only = await bonus_gql.campaign(**fixed, countries=["GB"])
    once = await bonus_gql.campaign(**fixed, name="Once")
    player = await player_factory()

    refused = await bonus_gql.op("grantBonus", campaignId=uk_only["id"], playerId=player)
    first = await bonus_gql.op("grantBonus", campaignId=once["id"], playerId=player)
    again = await bonus_gql.op("grantBonus", campaignId=once["id"], playerId=player)

    assert refused["__typename"] == "BonusNotEligible"
    # No wagering: a FIXED bonus without a multiplier is paid to REAL at once.
    assert (first["__typename"], first["status"]) == ("PlayerBonus", "FULFILLED")
    assert again["__typename"] == "BonusAlreadyAwarded"
    assert (await wallets_of(db, player))["REAL"]["balance"] == 1000
    assert await scalar(db, "SELECT count(*) FROM player_bonuses") == 1
    await assert_ledger_consistent(db)


async def test_grant_replays_with_the_same_key(bonus_gql, db, player_factory):
    campaign = await bonus_gql.campaign(
        kind="FIXED", trigger="MANUAL", fixedAmount="10.00", wageringMultiplier="5",
        awardLimit="EVERY_OCCURRENCE",
    )  # fmt: skip
    player = await player_factory()
    args = {"campaignId": campaign["id"], "playerId": player, "idempotencyKey": "g-1"}

    first = await bonus_gql.op("grantBonus", **args)
    second = await bonus_gql.op("grantBonus", **args)

    assert first == second
    assert await scalar(db, "SELECT count(*) FROM player_bonuses") == 1


async def test_segment_eligibility_follows_real_segment_membership(bonus_gql, db, player_factory):
    austrian = await player_factory(country="AT")
    german = await player_factory(country="DE")
    create = """mutation($i: SegmentInput!) { createSegment(input: $i) {
      __typename ... on SegmentSuccess { segment { id } } } }"""
    rule = {"attr": "country", "op": "eq", "value": "AT"}
    made = await bonus_gql.raw(create, {"i": {"name": "Austria", "rule": rule}},
                               as_=MARKETER)  # fmt: skip
    segment_id = made["data"]["createSegment"]["segment"]["id"]
    campaign = await bonus_gql.campaign(kind="FIXED", trigger="MANUAL", fixedAmount="10.00",
                                        segmentIds=[segment_id])  # fmt: skip

    member = await bonus_gql.op("grantBonus", campaignId=campaign["id"], playerId=austrian)
    outsider = await bonus_gql.op("grantBonus", campaignId=campaign["id"], playerId=german)

    assert member["__typename"] == "PlayerBonus"
    assert outsider["__typename"] == "BonusNotEligible"
    assert await scalar(db, "SELECT count(*) FROM player_bonuses") == 1
