"""``balancesAt(time)``: every wallet's balance at a past moment, from the ledger, equal
to what the wallet held then; bad times are typed errors; COMPLIANCE and ADMIN only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.auth import staff_principal
from tests.integration.wallets.conftest import wallets_of

QUERY = """query($t: DateTime!, $p: ID, $first: Int, $after: String) {
  balancesAt(time: $t, playerId: $p, first: $first, after: $after) {
    __typename
    ... on BalancesAt { endCursor wallets { walletId playerId kind balance { amount currency } } }
    ... on ValidationError { code field message } } }"""
COMPLIANCE = staff_principal("COMPLIANCE", "c-1")


async def now(db) -> datetime:
    async with db.read_session() as session:
        return (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()


async def real_balance_at(wallet_gql, player: str, at: datetime) -> str:
    body = await wallet_gql.raw(QUERY, {"t": at.isoformat(), "p": player}, as_=COMPLIANCE)
    wallets = body["data"]["balancesAt"]["wallets"]
    return next(w["balance"]["amount"] for w in wallets if w["kind"] == "REAL")


async def test_balances_at_each_moment_equal_what_the_wallet_held(wallet_gql, db, player_factory):
    player = await player_factory()
    moments = [(await now(db), 0)]
    for amount in ("100.00", "40.00"):
        await wallet_gql.op("deposit", playerId=player, amount=amount, currency="EUR",
                            paymentReference="tok_x")  # fmt: skip
        moments.append((await now(db), (await wallets_of(db, player))["REAL"]["balance"]))
    await wallet_gql.op("reserveBet", playerId=player, amount="30.00", currency="EUR",
                        gameRoundId="r-1", transactionId="b-1")  # fmt: skip
    await wallet_gql.op("settleBet", playerId=player, gameRoundId="r-1", transactionId="s-1",
                        winAmount="0.00", currency="EUR")  # fmt: skip
    moments.append((await now(db), (await wallets_of(db, player))["REAL"]["balance"]))

    for at, held in moments:
        assert await real_balance_at(wallet_gql, player, at) == f"{held / 100:.2f}"
    assert [h for _, h in moments] == [0, 10000, 14000, 11000]


async def test_pages_cover_every_wallet_once(wallet_gql, db, player_factory):
    players = [await player_factory() for _ in range(2)]
    at = await now(db)
    seen, after = [], None
    while True:
        body = await wallet_gql.raw(QUERY, {"t": at.isoformat(), "first": 3, "after": after},
                                    as_=COMPLIANCE)  # fmt: skip
        page = body["data"]["balancesAt"]
        seen += [w["walletId"] for w in page["wallets"]]
        after = page["endCursor"]
        if after is None:
            break
    async with db.read_session() as session:
        ids = (await session.execute(text("SELECT id FROM wallets ORDER BY id"))).scalars()
        assert seen == [str(i) for i in ids]
    assert len(seen) == 4 * len(players)


async def test_bad_times_and_ids_are_typed_errors_and_access_is_limited(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    cases = [
        ({"t": future}, "time", "is in the future"),
        ({"t": "2026-01-01T00:00:00"}, "time", "needs a time zone offset"),
        ({"t": datetime.now(UTC).isoformat(), "p": "nope"}, "playerId", "not a player id"),
        ({"t": datetime.now(UTC).isoformat(), "after": "x"}, "after", "not a cursor"),
    ]
    for variables, field, message in cases:
        answer = (await wallet_gql.raw(QUERY, variables, as_=COMPLIANCE))["data"]["balancesAt"]
        assert answer["__typename"] == "ValidationError" and answer["field"] == field
        assert message in answer["message"]
    at = {"t": datetime.now(UTC).isoformat(), "p": player}
    for role, allowed in (("SUPPORT", False), ("FINANCE", False), ("ADMIN", True)):
        body = await wallet_gql.raw(QUERY, at, as_=staff_principal(role, f"{role}-1"))
        if allowed:
            assert body["data"]["balancesAt"]["__typename"] == "BalancesAt"
        else:
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
