"""Play-style metrics and segments follow real bets and payments: the ledger's committed
outbox events feed them, each exactly once."""

from __future__ import annotations

from app.playstyle.consumer import consume_money_events
from tests.auth import staff_principal

PLAY_STYLE = """
query($id: ID!) { player(id: $id) {
  playStyle { betCount averageBet { amount } favouriteGames netDeposits { amount } }
  segments { name }
} }
"""


async def test_settled_bets_and_payments_feed_play_style_and_segments_once(
    wallet_gql, db, settings, player_factory
):
    player = await player_factory()
    marketer = staff_principal("MARKETER", "m-ps")
    create = """mutation($i: SegmentInput!) { createSegment(input: $i) { __typename } }"""
    rule = {"attr": "netDeposits", "op": "gte", "value": 5000}  # minor units: 50.00
    depositors = {"name": "Depositors", "rule": rule}
    made = await wallet_gql.raw(create, {"i": depositors}, as_=marketer)
    assert made["data"]["createSegment"]["__typename"] == "SegmentSuccess"

    await wallet_gql.op("deposit", playerId=player, amount="80.00", currency="EUR",
                        paymentReference="tok_ps")  # fmt: skip
    for i, (stake, game) in enumerate([("2.00", "book-of-ra"), ("4.00", "book-of-ra"),
                                       ("6.00", "roulette")]):  # fmt: skip
        await wallet_gql.op("reserveBet", playerId=player, amount=stake, currency="EUR",
                            gameRoundId=f"ps-{i}", transactionId=f"ps-b{i}")  # fmt: skip
        settled = await wallet_gql.op(
            "settleBet", playerId=player, gameRoundId=f"ps-{i}", winAmount="0", currency="EUR",
            transactionId=f"ps-w{i}", gameId=game, gameProvider="novomatic",
        )  # fmt: skip
        assert settled["__typename"] == "WalletOperation"

    first = await consume_money_events(db, settings)
    again = await consume_money_events(db, settings)
    body = await wallet_gql.raw(PLAY_STYLE, {"id": player}, as_=marketer)

    assert (first, again) == (4, 0)  # one deposit, three settled bets; nothing twice
    style = body["data"]["player"]["playStyle"]
    assert style["betCount"] == 3
    assert style["averageBet"] == {"amount": "4.00"}
    assert style["favouriteGames"][0] == "book-of-ra"
    assert style["netDeposits"] == {"amount": "80.00"}
    assert body["data"]["player"]["segments"] == [{"name": "Depositors"}]


async def test_bad_game_descriptors_are_typed_errors(wallet_gql, db, player_factory):
    player = await player_factory()
    await wallet_gql.op("deposit", playerId=player, amount="10.00", currency="EUR",
                        paymentReference="tok_ps2")  # fmt: skip
    await wallet_gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                        gameRoundId="ps-x", transactionId="ps-bx")  # fmt: skip

    bad = await wallet_gql.op("settleBet", playerId=player, gameRoundId="ps-x", winAmount="0",
                              currency="EUR", transactionId="ps-wx", gameId="x" * 65)  # fmt: skip

    assert (bad["__typename"], bad["field"]) == ("ValidationError", "gameId")


async def test_a_refunded_round_is_taken_out_of_the_play_style(
    wallet_gql, db, settings, player_factory
):
    player = await player_factory()
    marketer = staff_principal("MARKETER", "m-ps3")
    await wallet_gql.op("deposit", playerId=player, amount="50.00", currency="EUR",
                        paymentReference="tok_ps3")  # fmt: skip
    for i, (stake, game) in enumerate([("2.00", "book-of-ra"), ("6.00", "roulette")]):
        await wallet_gql.op("reserveBet", playerId=player, amount=stake, currency="EUR",
                            gameRoundId=f"rf-{i}", transactionId=f"rf-b{i}")  # fmt: skip
        await wallet_gql.op("settleBet", playerId=player, gameRoundId=f"rf-{i}", winAmount="1.00",
                            currency="EUR", transactionId=f"rf-w{i}", gameId=game)  # fmt: skip
    await consume_money_events(db, settings)

    refund = await wallet_gql.op("rollbackRound", playerId=player, gameRoundId="rf-1",
                                 transactionId="rf-rb1")  # fmt: skip
    await consume_money_events(db, settings)
    await consume_money_events(db, settings)  # a second pass changes nothing
    body = await wallet_gql.raw(PLAY_STYLE, {"id": player}, as_=marketer)

    assert refund["__typename"] == "WalletOperation"
    style = body["data"]["player"]["playStyle"]
    assert style["betCount"] == 1
    assert style["averageBet"] == {"amount": "2.00"}
    assert style["favouriteGames"] == ["book-of-ra"]
