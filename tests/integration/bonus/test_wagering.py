"""Wagering through settled bets, automatic release, max bet, expiry, forfeit, cashback,
loyalty and free spins - asserting ledger rows and balances."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from app.bonuses import tasks, triggers
from tests.integration.wallets.conftest import assert_ledger_consistent, scalar, wallets_of


async def setup_bonus(gql, player, *, bonus="10.00", multiplier="3", **campaign):
    c = await gql.campaign(kind="FIXED", trigger="MANUAL", fixedAmount=bonus,
                           wageringMultiplier=multiplier, **campaign)  # fmt: skip
    return await gql.op("grantBonus", campaignId=c["id"], playerId=player)


async def play(gql, player, stake, win="0", n=[0], **extra):  # noqa: B006 (a counter)
    n[0] += 1
    r = await gql.op("reserveBet", playerId=player, amount=stake, currency="EUR",
                     gameRoundId=f"r{n[0]}", transactionId=f"b{n[0]}")  # fmt: skip
    if r["__typename"] != "WalletOperation":
        return r
    return await gql.op(
        "settleBet", playerId=player, reservationId=r["reservationId"], winAmount=win,
        currency="EUR", transactionId=f"w{n[0]}", **extra,
    )  # fmt: skip


async def transfers(db, kind):
    async with db.read_session() as s:
        rows = await s.execute(
            text(
                "SELECT w.kind, t.house_account, t.amount FROM ledger_transfers t "
                "JOIN wallets w ON w.id = t.wallet_id WHERE t.kind = :k ORDER BY t.id"
            ),
            {"k": kind},
        )
        return [tuple(r) for r in rows]  # fmt: skip


async def test_wagering_met_releases_bonus_money_to_real_in_the_settle(
    bonus_gql, db, player_factory
):
    player = await player_factory()
    await bonus_gql.op("deposit", playerId=player, amount="100.00", currency="EUR",
                       paymentReference="tok")  # fmt: skip
    bonus = await setup_bonus(bonus_gql, player)  # 10.00, 3x -> 30.00 to wager
    assert bonus["wagering"]["required"]["amount"] == "30.00"

    await play(bonus_gql, player, "20.00", win="20.00")
    mid = await scalar(db, "SELECT wagered FROM player_bonuses")
    settled = await play(bonus_gql, player, "10.00", win="5.00")

    assert mid == 2000
    assert settled["__typename"] == "WalletOperation"
    row = await scalar(db, "SELECT status || '/' || wagered || '/' || released FROM player_bonuses")
    assert row == "FULFILLED/3000/1000"
    assert await transfers(db, "BONUS_CONVERSION") == [
        ("BONUS", "BONUS_LIABILITY", -1000), ("REAL", "BONUS_LIABILITY", 1000),
    ]  # fmt: skip
    wallets = await wallets_of(db, player)
    assert (wallets["REAL"]["balance"], wallets["BONUS"]["balance"]) == (10000 - 500 + 1000, 0)
    assert (
        await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'bonus.fulfilled'") == 1
    )
    await assert_ledger_consistent(db)


async def test_release_is_capped_by_max_conversion_and_the_excess_returns(
    bonus_gql, db, player_factory
):
    player = await player_factory()
    await setup_bonus(bonus_gql, player, multiplier="1", maxConversion="5.00")

    await play(bonus_gql, player, "10.00", win="30.00")  # all bonus money: 30.00 in BONUS

    assert await transfers(db, "BONUS_CONVERSION") == [
        ("BONUS", "BONUS_LIABILITY", -3000), ("REAL", "BONUS_LIABILITY", 500),
    ]  # fmt: skip
    assert await scalar(db, "SELECT released || '/' || forfeited FROM player_bonuses") == "500/2500"
    await assert_ledger_consistent(db)


async def test_game_categories_weigh_the_contribution(bonus_gql, db, player_factory):
    player = await player_factory()
    await bonus_gql.op("deposit", playerId=player, amount="100.00", currency="EUR",
                       paymentReference="tok")  # fmt: skip
    await setup_bonus(bonus_gql, player, multiplier="10", contributions=[
        {"category": "slots", "percent": "100"}, {"category": "table", "percent": "10"},
    ])  # fmt: skip

    await play(bonus_gql, player, "10.00", gameCategory="table")
    await play(bonus_gql, player, "10.00", gameCategory="slots")
    await play(bonus_gql, player, "10.00", gameCategory="live")  # not listed: counts 0
    await play(bonus_gql, player, "10.00")  # default category: slots

    assert await scalar(db, "SELECT wagered FROM player_bonuses") == 100 + 1000 + 0 + 1000


async def test_unknown_game_category_on_settle_is_a_validation_error(bonus_gql, db, player_factory):
    player = await player_factory()
    await bonus_gql.op("deposit", playerId=player, amount="10.00", currency="EUR",
                       paymentReference="tok")  # fmt: skip

    result = await play(bonus_gql, player, "1.00", gameCategory="lottery-x")

    assert (result["__typename"], result["field"]) == ("ValidationError", "gameCategory")


async def test_bets_above_the_max_bet_are_refused_while_wagering(bonus_gql, db, player_factory):
    player = await player_factory()
    await bonus_gql.op("deposit", playerId=player, amount="100.00", currency="EUR",
                       paymentReference="tok")  # fmt: skip
    await setup_bonus(bonus_gql, player, maxBet="5.00")
    before = await scalar(db, "SELECT count(*) FROM ledger_holds")

    refused = await play(bonus_gql, player, "5.01")
    allowed = await play(bonus_gql, player, "5.00")

    assert refused["__typename"] == "MaxBetExceeded"
    assert refused["code"] == "MAX_BET_EXCEEDED"
    assert allowed["__typename"] == "WalletOperation"
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == before + 1


async def test_expiry_returns_the_remaining_bonus_money_to_the_house(
    bonus_gql, db, player_factory, settings
):
    player = await player_factory()
    await setup_bonus(bonus_gql, player)
    await play(bonus_gql, player, "4.00")  # lost 4.00 of bonus money
    async with db.transaction() as s:
        await s.execute(text("UPDATE player_bonuses SET expires_at = now() - interval '1 s'"))

    assert await tasks.expire_bonuses(db, settings) == 1
    assert await tasks.expire_bonuses(db, settings) == 0

    assert await transfers(db, "BONUS_FORFEIT") == [("BONUS", "BONUS_LIABILITY", -600)]
    assert (
        await scalar(db, "SELECT status || '/' || forfeited FROM player_bonuses") == "EXPIRED/600"
    )
    assert (await wallets_of(db, player))["BONUS"]["balance"] == 0
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'bonus.expired'") == 1
    await assert_ledger_consistent(db)


async def test_forfeit_and_withdrawal_rule_end_bonuses(bonus_gql, db, player_factory):
    player = await player_factory()
    await bonus_gql.op("deposit", playerId=player, amount="50.00", currency="EUR",
                       paymentReference="tok")  # fmt: skip
    first = await setup_bonus(bonus_gql, player, name="A")
    await setup_bonus(bonus_gql, player, name="B", bonus="7.00", forfeitOnWithdrawal=True)

    forfeited = await bonus_gql.op("forfeitBonus", playerId=player, bonusId=first["id"])
    again = await bonus_gql.op("forfeitBonus", playerId=player, bonusId=first["id"])
    await bonus_gql.op("withdraw", playerId=player, amount="10.00", currency="EUR")

    assert (forfeited["status"], forfeited["returned"]["amount"]) == ("FORFEITED", "10.00")
    assert again["__typename"] == "BonusNotActive"
    statuses = await scalar(db, "SELECT string_agg(status, ',' ORDER BY id) FROM player_bonuses")
    assert statuses == "FORFEITED,FORFEITED"
    assert (await wallets_of(db, player))["BONUS"]["balance"] == 0
    await assert_ledger_consistent(db)


async def test_cashback_job_pays_once_per_period_even_when_run_twice(
    bonus_gql, db, player_factory, settings
):
    await bonus_gql.campaign(kind="CASHBACK", trigger="CASHBACK_PERIOD", percent="10",
                             maxAmount="1.50")  # fmt: skip
    loser, capped, winner = [await player_factory() for _ in range(3)]
    for p in (loser, capped, winner):
        await bonus_gql.op("deposit", playerId=p, amount="100.00", currency="EUR",
                           paymentReference="tok")  # fmt: skip
    await play(bonus_gql, loser, "10.00")  # net loss 10.00 -> 1.00
    await play(bonus_gql, capped, "50.00")  # net loss 50.00 -> 5.00, capped to 1.50
    await play(bonus_gql, winner, "10.00", win="25.00")
    today = datetime.now(UTC).date()

    assert await triggers.cashback(db, settings, today) == 2
    assert await triggers.cashback(db, settings, today) == 0

    amounts = await scalar(db, "SELECT string_agg(amount::text, ',' ORDER BY amount) "
                               "FROM player_bonuses")  # fmt: skip
    assert amounts == "100,150"
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers WHERE kind = 'BONUS_AWARD'") == 2
    await assert_ledger_consistent(db)


async def test_loyalty_points_and_tier_change_event(bonus_gql, db, player_factory):
    player = await player_factory()
    await bonus_gql.op("deposit", playerId=player, amount="2000.00", currency="EUR",
                       paymentReference="tok")  # fmt: skip

    await play(bonus_gql, player, "900.00")
    await play(bonus_gql, player, "500.00", gameCategory="table")  # 20 %: 100 points

    body = await bonus_gql.raw(
        "query($id: ID!) { player(id: $id) { loyalty { points tier nextTier progress } "
        "bonuses { id } } }", {"id": player})  # fmt: skip
    assert body["data"]["player"]["loyalty"] == {
        "points": "1000", "tier": "SILVER", "nextTier": "GOLD", "progress": "0.00",
    }  # fmt: skip
    events = await scalar(db, "SELECT string_agg(data->>'to', ',') FROM outbox_events "
                              "WHERE type = 'loyalty.tier_changed'")  # fmt: skip
    assert events == "SILVER"


async def test_loyalty_tier_reward_campaign_pays_on_reaching_the_tier(
    bonus_gql, db, player_factory
):
    await bonus_gql.campaign(kind="LOYALTY_TIER", trigger="LOYALTY_TIER_REACHED",
                             loyaltyTier="SILVER", fixedAmount="25.00")  # fmt: skip
    player = await player_factory()
    await bonus_gql.op("deposit", playerId=player, amount="2000.00", currency="EUR",
                       paymentReference="tok")  # fmt: skip

    await play(bonus_gql, player, "1000.00")
    await play(bonus_gql, player, "10.00")

    assert await scalar(db, "SELECT count(*) FROM player_bonuses WHERE kind = 'LOYALTY_TIER'") == 1
    assert (await wallets_of(db, player))["REAL"]["balance"] == 200000 - 101000 + 2500
    await assert_ledger_consistent(db)


async def test_free_spins_grant_and_win_become_bonus_money_with_wagering(
    bonus_gql, db, player_factory
):
    c = await bonus_gql.campaign(kind="FREE_SPINS", trigger="MANUAL", freeSpins=20,
                                 spinStake="0.20", games=["book-of-x"],
                                 wageringMultiplier="20")  # fmt: skip
    player = await player_factory()

    spins = await bonus_gql.op("grantBonus", campaignId=c["id"], playerId=player)
    await bonus_gql.op("consumeFreeSpins", playerId=player, spins=20)
    win = await bonus_gql.op("creditFreeSpinsWin", playerId=player, bonusId=spins["id"],
                             amount="3.40", currency="EUR")  # fmt: skip

    assert spins["amount"] == {"amount": "20", "currency": "XFS"}
    assert (win["kind"], win["status"]) == ("FREE_SPINS_WIN", "ACTIVE")
    assert win["wagering"]["required"]["amount"] == "68.00"
    wallets = await wallets_of(db, player)
    assert (wallets["FREESPINS"]["balance"], wallets["BONUS"]["balance"]) == (0, 340)
    await assert_ledger_consistent(db)


async def test_player_bonuses_query_filters_and_pages(bonus_gql, db, player_factory):
    player = await player_factory()
    for name in ("A", "B", "C"):
        await setup_bonus(bonus_gql, player, name=name)

    body = await bonus_gql.raw(
        "query($f: PlayerBonusFilter) { playerBonuses(filter: $f, first: 2) { totalCount "
        "edges { node { status wagering { percent } } } pageInfo { hasNextPage } } "
        "bonusCampaigns { name } }", {"f": {"playerId": player, "status": "ACTIVE"}})  # fmt: skip

    page = body["data"]["playerBonuses"]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"], len(page["edges"])) == (3, True, 2)
    assert [c["name"] for c in body["data"]["bonusCampaigns"]] == ["C", "B", "A"]


async def test_a_refunded_round_takes_back_its_wagering_and_loyalty_points(
    bonus_gql, db, player_factory
):
    player = await player_factory()
    await bonus_gql.op("deposit", playerId=player, amount="100.00", currency="EUR",
                       paymentReference="tok")  # fmt: skip
    await setup_bonus(bonus_gql, player, multiplier="10")  # 100.00 to wager
    await play(bonus_gql, player, "5.00")
    kept = (await scalar(db, "SELECT wagered FROM player_bonuses"),
            await scalar(db, "SELECT points FROM loyalty_accounts"))  # fmt: skip
    r = await bonus_gql.op("reserveBet", playerId=player, amount="20.00", currency="EUR",
                           gameRoundId="refunded", transactionId="b-refunded")  # fmt: skip
    await bonus_gql.op("settleBet", playerId=player, reservationId=r["reservationId"],
                       winAmount="0", currency="EUR", transactionId="w-refunded")  # fmt: skip
    counted = (await scalar(db, "SELECT wagered FROM player_bonuses"),
               await scalar(db, "SELECT points FROM loyalty_accounts"))  # fmt: skip

    refund = await bonus_gql.op("rollbackRound", playerId=player, gameRoundId="refunded",
                                transactionId="rb-refunded")  # fmt: skip
    again = await bonus_gql.op("rollbackRound", playerId=player, gameRoundId="refunded",
                               transactionId="rb-refunded-2")  # fmt: skip

    assert refund["__typename"] == "WalletOperation" and again["__typename"] == "WalletOperation"
    assert counted[0] == kept[0] + 2000 and counted[1] > kept[1]
    after = (await scalar(db, "SELECT wagered FROM player_bonuses"),
             await scalar(db, "SELECT points FROM loyalty_accounts"))  # fmt: skip
    assert after == kept  # exactly what the refunded round added is gone, once
    await assert_ledger_consistent(db)
