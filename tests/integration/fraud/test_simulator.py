"""The simulator against the default rules: a bot at 10x the human bet rate, a bonus
abuser and three accounts on one device are caught through the real API and outbox; of
1,000 generated normal players, none is hit."""

from __future__ import annotations

import time

from tests.integration.bonus.conftest import MARKETER
from tests.integration.fraud import simulator as sim
from tests.integration.fraud.conftest import drain, risk
from tests.integration.wallets.conftest import scalar

CAMPAIGN = """mutation($i: CreateBonusCampaignInput!) { createBonusCampaign(input: $i) {
  __typename } }"""


async def _hit_players(db) -> dict[str, set[str]]:
    from sqlalchemy import text

    async with db.read_session() as session:
        rows = await session.execute(text("SELECT player_id, rule_key FROM fraud_hits"))
        hits: dict[str, set[str]] = {}
        for player_id, rule in rows:
            hits.setdefault(str(player_id), set()).add(rule)
        return hits


async def test_fraudsters_through_the_api_are_caught_and_normal_players_are_not(
    wallet_gql, db, settings, player_factory, default_rules
):
    made = await wallet_gql.raw(CAMPAIGN, {"i": {
        "name": "Welcome", "currency": "EUR", "kind": "DEPOSIT_MATCH", "trigger": "DEPOSIT",
        "percent": "100", "promoCode": "WELCOME", "wageringMultiplier": "30",
    }}, as_=MARKETER)  # fmt: skip
    assert made["data"]["createBonusCampaign"]["__typename"] == "BonusCampaign"
    normals = [await player_factory() for _ in range(3)]
    bot, abuser = await player_factory(), await player_factory()
    ring = [await player_factory(login=f"ring{i}") for i in range(3)]

    for player in normals:
        await sim.normal_player(wallet_gql, player)
    await sim.bot(wallet_gql, bot)
    await sim.bonus_abuser(wallet_gql, abuser, "WELCOME")
    for i in range(3):
        signed_in = await sim.login(wallet_gql, f"ring{i}", sim.PASSWORD, "device-shared-1")
        assert signed_in == "AuthTokens"
    await drain(db, settings)

    hits = await _hit_players(db)
    assert hits.pop(bot) == {"bet-rate-burst"}
    assert hits.pop(abuser) == {"bonus-abuse"}
    for player in ring:
        assert hits.pop(player) == {"shared-device"}
    assert hits == {}  # no normal player hit
    scored = await risk(wallet_gql, bot)
    assert scored["riskScore"] == 40
    assert [s["rule"] for s in scored["riskSignals"]] == ["bet-rate-burst"]
    assert scored["riskSignals"][0]["evidence"]["betsThisMinute"] >= 30
    ring_signal = (await risk(wallet_gql, ring[0]))["riskSignals"][0]
    assert sorted(ring_signal["evidence"]["accounts"]) == sorted(ring)
    # Each caught player has one open case; the bonus abuser's withdrawals are now held.
    assert await scalar(db, "SELECT count(*) FROM fraud_cases WHERE status = 'OPEN'") == 5
    assert await scalar(db, "SELECT count(*) FROM fraud_flags WHERE hold_withdrawals") == 1
    assert await drain(db, settings) == 0  # every event exactly once


async def test_a_thousand_generated_normal_players_raise_no_hit(db, settings, default_rules):
    crowd = await sim.generate_normal_players(db, 1000)

    started = time.perf_counter()
    handled = await drain(db, settings)
    elapsed = time.perf_counter() - started

    assert handled == crowd.events
    assert await _hit_players(db) == {}
    assert await scalar(db, "SELECT count(*) FROM fraud_cases") == 0
    # The crowd did produce observations (the rules saw them and stayed quiet).
    assert await scalar(db, "SELECT count(DISTINCT signal) FROM fraud_observations") >= 3
    print(f"\nfraud scoring: {handled} events in {elapsed:.1f} s = {handled / elapsed:.0f}/s")
