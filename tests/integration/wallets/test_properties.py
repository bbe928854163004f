"""Random sequences of every operation; the ledger invariants hold after each step."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.wallets.conftest import assert_ledger_consistent

_ids = itertools.count(1)

amounts = st.integers(min_value=1, max_value=5000).map(lambda m: f"{m // 100}.{m % 100:02d}")

steps = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), amounts),
        st.tuples(st.just("bonus"), amounts),
        st.tuples(st.just("bet"), amounts),
        st.tuples(st.just("settle"), amounts),
        st.tuples(st.just("cancel"), st.none()),
        st.tuples(st.just("rollbackBet"), st.none()),
        st.tuples(st.just("rollbackRound"), st.none()),
        st.tuples(st.just("withdraw"), amounts),
        st.tuples(st.just("confirm"), st.none()),
        st.tuples(st.just("reject"), st.none()),
        st.tuples(st.just("fee"), amounts),
        st.tuples(st.just("spins"), st.integers(min_value=-5, max_value=5)),
        st.tuples(st.just("tournament"), amounts),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=steps)
async def test_random_operations_keep_the_ledger_balanced(wallet_gql, db, player_factory, sequence):
    player = await player_factory()
    reservations: list[str] = []
    withdrawals: list[str] = []
    rounds: list[str] = []
    bets: list[str] = []
    for name, arg in sequence:
        n = next(_ids)
        base = {"playerId": player}
        money = {**base, "currency": "EUR"}
        if name == "deposit":
            await wallet_gql.op("deposit", **money, amount=arg, paymentReference="tok")
        elif name == "bonus":
            await wallet_gql.op("adjustBalance", **money, amount=arg, walletKind="BONUS",
                                reason="promo")  # fmt: skip
        elif name == "bet":
            r = await wallet_gql.op("reserveBet", **money, amount=arg, gameRoundId=f"r{n}",
                                    transactionId=f"b{n}")  # fmt: skip
            bets.append(f"b{n}")
            if r["__typename"] == "WalletOperation":
                reservations.append(r["reservationId"])
                rounds.append(f"r{n}")
        elif name == "settle" and reservations:
            await wallet_gql.op("settleBet", **money, winAmount=arg, transactionId=f"w{n}",
                                reservationId=reservations[-1])  # fmt: skip
        elif name == "cancel" and reservations:
            await wallet_gql.op("cancelBet", **base, reservationId=reservations.pop(0))
        elif name == "rollbackBet":
            tx = bets[-1] if bets else f"never{n}"
            await wallet_gql.op("rollbackBet", **base, transactionId=tx)
        elif name == "rollbackRound" and rounds:
            await wallet_gql.op("rollbackRound", **base, gameRoundId=rounds[0],
                                transactionId=f"rb{n}")  # fmt: skip
        elif name == "withdraw":
            r = await wallet_gql.op("withdraw", **money, amount=arg)
            if r["__typename"] == "WalletOperation":
                withdrawals.append(r["reservationId"])
        elif name in ("confirm", "reject") and withdrawals:
            op = "confirmWithdrawal" if name == "confirm" else "rejectWithdrawal"
            await wallet_gql.op(op, **base, withdrawalId=withdrawals.pop())
        elif name == "fee":
            await wallet_gql.op("chargeFee", **money, amount=arg, reason="fee")
        elif name == "spins" and arg:
            op = "grantFreeSpins" if arg > 0 else "consumeFreeSpins"
            await wallet_gql.op(op, **base, spins=abs(arg))
        elif name == "tournament":
            await wallet_gql.op("creditTournament", **money, amount=arg)
            await wallet_gql.op("debitTournament", **money, amount=arg)
        await assert_ledger_consistent(db)
