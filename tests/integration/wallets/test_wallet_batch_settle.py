"""The set-based walletBatch with settles, cancels and playRounds (app/ledger/set_batch.py)
through the real ASGI app: a settle after a bet of the same round in the same batch sees
the batch's own hold and round, a refused playRound leaves nothing of its bet, random
mixed batches answer and write what the same operations one by one do (bonus wagering
and loyalty included), and concurrent batches and single calls over shared players with
retried keys neither overdraw nor apply a key twice."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest

from tests.integration.bonus.conftest import BonusGQL
from tests.integration.wallets.conftest import (
    GAME_ENGINE,
    MUTATIONS,
    assert_ledger_consistent,
    scalar,
    wallets_of,
)
from tests.integration.wallets.test_wallet_batch import PLAY_ROUND
from tests.integration.wallets.test_wallet_batch_set import (
    bet,
    fund,
    run_batch,
    set_based,
    set_wager_limit,
)

__all__ = ["set_based"]  # the fixture, imported for the tests below

SINGLE = MUTATIONS | {"playRound": PLAY_ROUND}


def settle(player: str, ref: str, win: str, key: str, *, reservation: str | None = None,
           category: str | None = None) -> dict[str, Any]:  # fmt: skip
    fields: dict[str, Any] = {
        "playerId": player, "winAmount": win, "currency": "EUR", "transactionId": f"w-{key}",
        "idempotencyKey": f"s-{key}",
    }  # fmt: skip
    if reservation is not None:
        fields["reservationId"] = reservation
    else:
        fields["gameRoundId"] = f"r-{ref}"
    if category is not None:
        fields["gameCategory"] = category
    return {"settleBet": fields}


def cancel(player: str, reservation: str, key: str) -> dict[str, Any]:
    return {"cancelBet": {"playerId": player, "reservationId": reservation,
                          "idempotencyKey": f"c-{key}"}}  # fmt: skip


def rollback(player: str, transaction: str, key: str) -> dict[str, Any]:
    return {"rollbackBet": {"playerId": player, "transactionId": transaction,
                            "idempotencyKey": key}}  # fmt: skip


def play(player: str, stake: str, win: str, ref: str, key: str | None = None) -> dict[str, Any]:
    return {"playRound": {"playerId": player, "gameRoundId": f"r-{ref}", "stake": stake,
                          "winAmount": win, "currency": "EUR", "transactionId": f"p-{ref}",
                          "idempotencyKey": key or f"p-{ref}"}}  # fmt: skip


async def rows_of(db, player: str) -> dict[str, Any]:
    """Every row a player's bets wrote, without what differs between two players."""
    p = uuid.UUID(player)

    async def q(sql: str) -> Any:
        return await scalar(db, sql, p=p)

    return {
        "holds": await q(
            "SELECT coalesce(string_agg(status || ':' || real_amount || ':' || "
            "bonus_amount || ':' || (finalized_at IS NOT NULL), ',' ORDER BY id), '') "
            "FROM ledger_holds WHERE player_id = :p"
        ),
        "rounds": await q(
            "SELECT coalesce(string_agg(status || ':' || stake_real || ':' || "
            "stake_bonus || ':' || win_real || ':' || win_bonus || ':' || "
            # rgAt: when the limits counted the round (a time: only whether it is there)
            "(derived - 'wagering' - 'rgAt')::text || ':' || (derived ->> 'rgAt' IS NOT NULL) "
            "|| ':' || coalesce((SELECT sum(value::bigint) "
            "FROM jsonb_each_text(derived->'wagering'))::text, '-'), ',' "
            "ORDER BY id), '') FROM game_rounds "
            "WHERE player_id = :p"
        ),
        "transfers": await q(
            "SELECT coalesce(string_agg(kind || ':' || amount || ':' || "
            "balance_after, ',' ORDER BY id), '') FROM ledger_transfers "
            "WHERE player_id = :p"
        ),
        "events": await q(
            "SELECT coalesce(string_agg(type, ',' ORDER BY id), '') FROM "
            "outbox_events WHERE subject = CAST(CAST(:p AS uuid) AS text)"
        ),
        "audit": await q(
            "SELECT coalesce(string_agg(action || ':' || outcome, ',' ORDER BY "
            "action, outcome), '') FROM audit_log WHERE target = "
            "CAST(CAST(:p AS uuid) AS text) AND action LIKE 'ledger.%'"
        ),
        "gtx": await q(
            "SELECT count(*) FROM game_transactions g JOIN game_rounds r "
            "ON r.id = g.game_round_id WHERE r.player_id = :p"
        ),
        "limits": await q(
            "SELECT coalesce(sum(used), 0) FROM gambling_limits WHERE player_id = :p"
        ),
        "bonus": await q(
            "SELECT coalesce(string_agg(status || ':' || wagered || ':' || released "
            "|| ':' || forfeited, ','), '') FROM player_bonuses WHERE player_id = :p"
        ),
        "loyalty": await q(
            "SELECT coalesce(max(points || ':' || tier), '') FROM loyalty_accounts "
            "WHERE player_id = :p"
        ),
    }


def _normal(answer: dict[str, Any]) -> tuple[Any, ...]:
    return (answer["__typename"], answer.get("code"), answer.get("operation"),
            answer.get("transfers"), answer.get("holds"),
            [(w["kind"], w.get("balance"), w.get("held"), w["available"])
             for w in answer.get("wallets") or []])  # fmt: skip


async def test_a_settle_after_its_bet_in_one_batch_sees_the_batch_hold_and_round(
    wallet_gql, db, player_factory, set_based
):
    alice = await player_factory()
    await fund(wallet_gql, alice, "10.00")
    ops = [
        bet(alice, "2.00", "s1"),
        bet(alice, "1.00", "s1b"),
        settle(alice, "s1", "5.00", "s1"),  # the round s1 exists only in this batch
        settle(alice, "s1", "1.00", "s1-again"),  # settled just above: refused
        settle(alice, "nope", "1.00", "nope"),  # no such round
        play(alice, "3.00", "0", "p1"),  # bet and win of a new round, one item
    ]
    ops[1]["reserveBet"]["gameRoundId"] = "r-s1"  # a second bet on the same round

    result = await run_batch(wallet_gql, ops)

    kinds = [r["__typename"] for r in result["results"]]
    assert kinds == ["WalletOperation", "WalletOperation", "WalletOperation", "HoldNotPending",
                     "RoundNotFound", "WalletOperation"]  # fmt: skip
    assert result["results"][2]["gameRoundId"] == "r-s1"
    # 10 - 3 staked + 5 won on s1, - 3 lost on p1
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 900, "held": 0, "turnover": 600}
    rows = await rows_of(db, alice)
    assert rows["holds"] == "POSTED:200:0:true,POSTED:100:0:true,POSTED:300:0:true"
    assert rows["rounds"].startswith("SETTLED:300:0:500:0:") and rows["rounds"].count(
        "SETTLED") == 2  # fmt: skip
    assert rows["gtx"] == 5  # three bets, two wins
    assert rows["loyalty"] == "6:BRONZE"  # 3 + 3 units staked
    await assert_ledger_consistent(db)


async def test_a_refused_play_round_leaves_nothing_of_its_bet(
    wallet_gql, db, player_factory, set_based
):
    alice = await player_factory()
    await fund(wallet_gql, alice, "10.00")
    bad = play(alice, "2.00", "-1", "bad")  # the win is refused once the bet is accepted
    broke = play(alice, "50.00", "-1", "broke")  # the bet's refusal is the answer
    result = await run_batch(wallet_gql, [bad, broke, play(alice, "1.00", "2.00", "ok")])

    kinds = [r["__typename"] for r in result["results"]]
    assert kinds == ["ValidationError", "InsufficientFunds", "WalletOperation"]
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 1100, "held": 0, "turnover": 100}
    keys = await scalar(db, "SELECT string_agg(key, ',' ORDER BY key) FROM idempotency_keys "
                        "WHERE key LIKE 'p-%'")  # fmt: skip
    assert keys == "p-broke:bet,p-ok:bet,p-ok:win"  # the stored refusal and the accepted round
    assert await scalar(db, "SELECT count(*) FROM game_rounds WHERE round_ref = 'r-bad'") == 0
    again = await run_batch(wallet_gql, [bad, broke, play(alice, "1.00", "2.00", "ok")])
    assert again["results"][1:] == result["results"][1:]
    assert (await wallets_of(db, alice))["REAL"]["balance"] == 1100
    await assert_ledger_consistent(db)


async def test_a_play_round_whose_win_its_plan_refuses_leaves_nothing_of_its_bet(
    wallet_gql, db, player_factory, set_based
):
    """The win refused by its plan (its transaction id already used), not by its input:
    the bet the batch had accepted is taken back, and the next round sees the wallet
    as if the refused one had not run."""
    alice = await player_factory()
    await fund(wallet_gql, alice, "10.00")
    taken = {"reserveBet": {**bet(alice, "1.00", "other")["reserveBet"],
                            "transactionId": "p-dup:win"}}  # fmt: skip
    assert (await run_batch(wallet_gql, [taken]))["applied"] == 1
    result = await run_batch(wallet_gql, [play(alice, "2.00", "3.00", "dup"),
                                          play(alice, "1.00", "2.00", "next")])  # fmt: skip

    assert [r["__typename"] for r in result["results"]] == [
        "DuplicateTransaction", "WalletOperation"]  # fmt: skip
    real = next(w for w in result["results"][1]["wallets"] if w["kind"] == "REAL")
    assert real["available"]["amount"] == "10.00"  # 10, 1 held, then 1 staked and 2 won
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 1100, "held": 100, "turnover": 100}
    keys = await scalar(db, "SELECT string_agg(key, ',' ORDER BY key) FROM idempotency_keys "
                        "WHERE key LIKE 'p-%'")  # fmt: skip
    assert keys == "p-next:bet,p-next:win"
    assert await scalar(db, "SELECT count(*) FROM game_rounds WHERE round_ref = 'r-dup'") == 0
    assert (
        await scalar(
            db, "SELECT count(*) FROM ledger_holds WHERE player_id = :p", p=uuid.UUID(alice)
        )
        == 2
    )  # the earlier bet's and the next round's
    await assert_ledger_consistent(db)


async def test_rollbacks_in_a_batch_void_its_own_bets_and_tombstone_unknown_ones(
    wallet_gql, db, player_factory, set_based
):
    alice = await player_factory()
    await fund(wallet_gql, alice, "5.00")
    ops = [
        bet(alice, "2.00", "rb1"),
        rollback(alice, "t-rb1", "rb-1"),
        rollback(alice, "t-never", "rb-2"),
        settle(alice, "rb1", "1.00", "rb1"),  # its only bet was rolled back
    ]
    result = await run_batch(wallet_gql, ops)

    kinds = [r["__typename"] for r in result["results"]]
    assert kinds == ["WalletOperation", "WalletOperation", "WalletOperation", "HoldNotPending"]
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 500, "held": 0, "turnover": 0}
    assert (await rows_of(db, alice))["holds"] == "ROLLED_BACK:200:0:true"
    assert await scalar(db, "SELECT kind FROM game_transactions WHERE transaction_id = "
                        "'t-never'") == "TOMBSTONE"  # fmt: skip
    late = await run_batch(wallet_gql, [bet(alice, "1.00", "never")])  # t-never: tombstoned
    assert late["results"][0]["__typename"] == "DuplicateTransaction"
    await assert_ledger_consistent(db)


async def test_an_atomic_batch_of_bets_and_settles_is_all_or_nothing(
    wallet_gql, db, player_factory, set_based
):
    alice = await player_factory()
    await fund(wallet_gql, alice, "5.00")
    ops = [bet(alice, "2.00", "at1"), settle(alice, "at1", "4.00", "at1"),
           settle(alice, "at1", "4.00", "at1-twice")]  # fmt: skip
    refused = await run_batch(wallet_gql, ops, atomic=True)
    assert [r["__typename"] for r in refused["results"]] == [
        "BatchNotApplied", "BatchNotApplied", "HoldNotPending"]  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM game_rounds WHERE round_ref = 'r-at1'") == 0
    ok = await run_batch(wallet_gql, ops[:2], atomic=True)
    assert [r["__typename"] for r in ok["results"]] == ["WalletOperation"] * 2
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 700, "held": 0, "turnover": 200}
    await assert_ledger_consistent(db)


def _plans(rnd: random.Random, seed: int, count: int) -> list[tuple[Any, ...]]:
    """Random operations over four players: bets, settles (of a round by reference or of a
    bet by reservation id; some of rounds already settled or never opened), cancels,
    rollbackBets (of earlier bets, or tombstones), rollbackRounds, playRounds, retries of earlier
    operations (same key and body)."""
    plans: list[tuple[Any, ...]] = []
    bets: list[int] = []  # indexes of the bet plans
    opened: list[tuple[int, str]] = []  # (player, round) of the bets and playRounds
    for i in range(count):
        roll, p, ref = rnd.random(), rnd.randrange(4), f"{seed}-{i}"
        if plans and roll < 0.08:
            plans.append(rnd.choice(plans))
        elif bets and roll < 0.35:
            b = plans[rnd.choice(bets)]
            win = rnd.choice(["0", "1.00", "3.50"])
            by_id = rnd.random() < 0.3
            plans.append(("settle", b[1], b[3], win, ref, b[4] if by_id else None))
        elif bets and roll < 0.45:
            b = plans[rnd.choice(bets)]
            plans.append(("cancel", b[1], b[4], ref))
        elif bets and roll < 0.55:  # a bet's rollback, or a tombstone of one never sent
            b = plans[rnd.choice(bets)]
            target = b[4] if rnd.random() < 0.7 else f"tomb-{ref}"
            plans.append(("rollback", b[1], target, ref))
        elif opened and roll < 0.60:  # a refund of a round (settled or not)
            player, round_ref = rnd.choice(opened)
            plans.append(("rollround", player, round_ref, ref))
        elif roll < 0.75:
            opened.append((p, ref))
            plans.append(("play", p, rnd.choice(["0.50", "2.00", "6.00"]),
                          rnd.choice(["0", "1.00", "4.00"]), ref))  # fmt: skip
        elif roll < 0.78:
            plans.append(("settle", p, f"none-{ref}", "1.00", ref, None))
        else:
            joins = bets and rnd.random() < 0.2  # a second bet on an earlier round
            round_ref = plans[rnd.choice(bets)][3] if joins else ref
            player = plans[rnd.choice(bets)][1] if joins else p
            bets.append(len(plans))
            opened.append((player, round_ref))
            plans.append(("bet", player, rnd.choice(["0.50", "1.00", "2.50", "4.00"]),
                          round_ref, ref))  # fmt: skip
    return plans


def _op(plan: tuple[Any, ...], players: list[str], group: str,
        reservations: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    kind, p = plan[0], players[plan[1]]
    if kind == "bet":
        _, _, amount, round_ref, ref = plan
        op = bet(p, amount, f"{group}-{ref}")
        op["reserveBet"]["gameRoundId"] = f"r-{group}-{round_ref}"
        return op
    if kind == "settle":
        _, _, round_ref, win, ref, by_bet = plan
        reservation = reservations.get(by_bet) if by_bet is not None else None
        return settle(p, f"{group}-{round_ref}", win, f"{group}-{ref}", reservation=reservation,
                      category="slots")  # fmt: skip
    if kind == "rollround":
        _, _, round_ref, ref = plan
        return {
            "rollbackRound": {
                "playerId": p,
                "gameRoundId": f"r-{group}-{round_ref}",
                "transactionId": f"rr-{group}-{ref}",
                "idempotencyKey": f"rr-{group}-{ref}",
            }
        }
    if kind == "rollback":
        _, _, bet_ref, ref = plan
        return rollback(p, f"t-{group}-{bet_ref}", f"rb-{group}-{ref}")
    if kind == "cancel":
        _, _, bet_ref, ref = plan
        return cancel(p, reservations.get(bet_ref, "999999999"), f"{group}-{ref}")
    _, _, stake, win, ref = plan
    return play(p, stake, win, f"{group}-{ref}")


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_mixed_batches_answer_and_write_what_the_operations_one_by_one_do(
    wallet_gql, db, settings, player_factory, seed, set_based
):
    """Property: random mixed batches (bets, settles, cancels, rollbacks of bets and of
    rounds, playRounds, retries; one
    player under a wager limit, one wagering a bonus) give the answers, balances, holds,
    rounds, transfers, events, audit rows, limit counters, bonus and loyalty figures the
    same operations give sent one at a time. Reservation ids are those of earlier batches
    (each group's own); deposits run between batches."""
    rnd = random.Random(seed)
    plans = _plans(rnd, seed, 90)
    bonus = BonusGQL(wallet_gql)
    campaign = await bonus.campaign(kind="FIXED", trigger="MANUAL", fixedAmount="10.00",
                                    wageringMultiplier="2")  # fmt: skip
    groups: dict[str, list[str]] = {}
    for group in ("batch", "single"):
        groups[group] = [await player_factory() for _ in range(4)]
        for player, amount in zip(groups[group], ["20.00", "8.00", "3.00", "15.00"], strict=True):
            await fund(wallet_gql, player, amount)
        await set_wager_limit(db, settings, groups[group][2], "6.00")
        granted = await bonus.op("grantBonus", campaignId=campaign["id"],
                                 playerId=groups[group][3])  # fmt: skip
        assert granted["__typename"] == "PlayerBonus", granted

    answers: dict[str, list[dict[str, Any]]] = {"batch": [], "single": []}
    reservations: dict[str, dict[str, str]] = {"batch": {}, "single": {}}
    for start in range(0, len(plans), 15):
        chunk = plans[start : start + 15]
        ops = [_op(plan, groups["batch"], "batch", reservations["batch"]) for plan in chunk]
        answers["batch"] += (await run_batch(wallet_gql, ops))["results"]
        for plan in chunk:
            op = _op(plan, groups["single"], "single", reservations["single"])
            name, fields = next(iter(op.items()))
            body = await wallet_gql.raw(SINGLE[name], {"input": fields}, as_=GAME_ENGINE)
            answers["single"].append(body["data"][name])
        for group in answers:  # the ids of this chunk's bets, for the later chunks
            for plan, answer in zip(chunk, answers[group][start:], strict=True):
                if plan[0] == "bet" and answer.get("reservationId"):
                    reservations[group].setdefault(plan[4], answer["reservationId"])
        for group in groups:  # a deposit between batches (deposits run one by one)
            await fund(wallet_gql, groups[group][start // 15 % 4], "2.00")

    assert [_normal(a) for a in answers["batch"]] == [_normal(a) for a in answers["single"]]
    for mine, theirs in zip(groups["batch"], groups["single"], strict=True):
        assert await wallets_of(db, mine) == await wallets_of(db, theirs)
        assert await rows_of(db, mine) == await rows_of(db, theirs)
    await assert_ledger_consistent(db)


@pytest.mark.race
async def test_concurrent_mixed_batches_and_singles_never_overdraw_or_apply_a_key_twice(
    isolated_wallet_gql, db, settings, player_factory, set_based
):
    """16 concurrent batches of 20 operations (bets, settles of those bets' rounds,
    playRounds) drawn from one pool over five players, each operation sent by about three
    batches, with playRounds sent as single calls beside them: no wallet below zero or
    its holds, nothing past the wager limit, each key answered the same everywhere, each
    round settled at most once, the ledger balanced."""
    gql = isolated_wallet_gql
    players = [await player_factory() for _ in range(5)]
    for player in players:
        await fund(gql, player, "15.00")
    await set_wager_limit(db, settings, players[4], "9.00")
    rnd = random.Random(5)
    pool: list[dict[str, Any]] = []
    for i in range(60):
        p = players[i % 5]
        pool.append(bet(p, "1.00", f"x{i}"))
        pool.append(settle(p, f"x{i}", "1.50", f"x{i}"))
        pool.append(play(p, "2.00", rnd.choice(["0", "3.00"]), f"y{i}"))
    batches = [[rnd.choice(pool) for _ in range(20)] for _ in range(16)]
    singles = [rnd.choice([o for o in pool if "playRound" in o]) for _ in range(30)]

    async def single(op: dict[str, Any]) -> dict[str, Any]:
        body = await gql.raw(PLAY_ROUND, {"input": op["playRound"]}, as_=GAME_ENGINE)
        assert "errors" not in body, body
        return body["data"]["playRound"]

    results = await asyncio.gather(*(run_batch(gql, ops) for ops in batches),
                                   *(single(op) for op in singles))  # fmt: skip

    seen: dict[str, set[tuple[Any, ...]]] = {}
    sent = [(o, a) for ops, res in zip(batches, results[:16], strict=True)
            for o, a in zip(ops, res["results"], strict=True)]  # fmt: skip
    sent += list(zip(singles, results[16:], strict=True))
    for op, answer in sent:
        fields = next(iter(op.values()))
        assert answer["__typename"] in ("WalletOperation", "InsufficientFunds", "LimitExceeded",
                                        "RoundNotFound", "HoldNotPending"), answer  # fmt: skip
        if answer["__typename"] == "WalletOperation":
            key = fields["idempotencyKey"]
            seen.setdefault(key, set()).add((answer["operationId"], answer["reservationId"]))
    assert all(len(ids) == 1 for ids in seen.values()), seen  # retries replay the first answer
    twice = await scalar(db, "SELECT count(*) FROM (SELECT game_round_id FROM "
                         "game_transactions WHERE kind = 'WIN' GROUP BY game_round_id "
                         "HAVING count(*) > 1) d")  # fmt: skip
    assert twice == 0
    reused = await scalar(db, "SELECT count(*) FROM (SELECT transaction_id FROM ledger_holds "
                          "GROUP BY client, transaction_id HAVING count(*) > 1) d")  # fmt: skip
    assert reused == 0  # each bet's transaction id held once, however often it was sent
    for player in players:
        for wallet in (await wallets_of(db, player)).values():
            assert 0 <= wallet["held"] <= wallet["balance"]
    used = await scalar(db, "SELECT used FROM gambling_limits WHERE player_id = :p",
                        p=uuid.UUID(players[4]))  # fmt: skip
    assert used <= 900
    await assert_ledger_consistent(db)
