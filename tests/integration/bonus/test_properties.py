"""Random bonus activity mixed with bets; the ledger invariants and the bonus rules hold
after every step."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.bonuses import tasks
from tests.integration.wallets.conftest import assert_ledger_consistent, scalar

_ids = itertools.count(1)

amounts = st.integers(min_value=1, max_value=3000).map(lambda m: f"{m // 100}.{m % 100:02d}")
categories = st.sampled_from([None, "slots", "table", "live"])

steps = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), amounts),
        st.tuples(st.just("grant"), amounts),
        st.tuples(st.just("play"), st.tuples(amounts, amounts, categories)),
        st.tuples(st.just("forfeit"), st.none()),
        st.tuples(st.just("expire"), st.none()),
        st.tuples(st.just("withdraw"), amounts),
    ),
    min_size=1,
    max_size=10,
)


async def _check_bonus_rules(db) -> None:
    bad = await scalar(db, """
        SELECT count(*) FROM player_bonuses
        WHERE (status = 'ACTIVE') <> (finished_at IS NULL)
           OR (status = 'FULFILLED' AND wagered < wagering_required)
           OR (status = 'ACTIVE' AND wagering_required > 0 AND wagered >= wagering_required)
           OR released < 0 OR forfeited < 0""")  # fmt: skip
    assert bad == 0


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=steps)
async def test_random_bonus_activity_keeps_the_ledger_balanced(
    bonus_gql, db, player_factory, sequence, settings
):
    player = await player_factory()
    campaign = await bonus_gql.campaign(
        name=f"P{next(_ids)}", kind="FIXED", trigger="MANUAL", fixedAmount="10.00",
        wageringMultiplier="2", awardLimit="EVERY_OCCURRENCE", maxConversion="15.00",
        forfeitOnWithdrawal=True,
        contributions=[{"category": "slots", "percent": "100"},
                       {"category": "table", "percent": "25"}],
    )  # fmt: skip
    money = {"playerId": player, "currency": "EUR"}
    for name, arg in sequence:
        n = next(_ids)
        if name == "deposit":
            await bonus_gql.op("deposit", **money, amount=arg, paymentReference="tok")
        elif name == "grant":
            await bonus_gql.op("grantBonus", campaignId=campaign["id"], playerId=player,
                               amount=arg)  # fmt: skip
        elif name == "play":
            stake, win, category = arg
            r = await bonus_gql.op("reserveBet", **money, amount=stake, gameRoundId=f"r{n}",
                                   transactionId=f"b{n}")  # fmt: skip
            if r["__typename"] == "WalletOperation":
                extra = {"gameCategory": category} if category else {}
                await bonus_gql.op("settleBet", **money, winAmount=win, transactionId=f"w{n}",
                                   reservationId=r["reservationId"], **extra)  # fmt: skip
        elif name == "forfeit":
            bonus_id = await scalar(db, "SELECT min(id) FROM player_bonuses "
                                        "WHERE status = 'ACTIVE'")  # fmt: skip
            if bonus_id:
                await bonus_gql.op("forfeitBonus", playerId=player, bonusId=str(bonus_id))
        elif name == "expire":
            async with db.transaction() as s:
                await s.execute(text("UPDATE player_bonuses SET expires_at = now() "
                                     "WHERE id = (SELECT max(id) FROM player_bonuses "
                                     "WHERE status = 'ACTIVE')"))  # fmt: skip
            await tasks.expire_bonuses(db, settings)
        elif name == "withdraw":
            await bonus_gql.op("withdraw", **money, amount=arg)
        await assert_ledger_consistent(db)
        await _check_bonus_rules(db)
