"""The player row under status changes, on real concurrent transactions: fraud actions
that block one player at once all finish (none holds the row FOR SHARE and then asks for
more, the lock upgrade two such transactions deadlock on), and a money operation does
not wait for a status change (FOR NO KEY UPDATE leaves its foreign-key checks alone)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from app.audit.service import Actor
from app.core.db import Database, asyncpg_dsn
from app.core.settings import Settings
from app.events import outbox
from app.fraud import consumer
from app.fraud import service as fraud
from app.fraud.models import Decision
from app.ledger import service as ledger
from app.players import service as players
from app.players.models import PlayerStatus
from tests.factories import create_player
from tests.integration.wallets.conftest import (
    GAME_ENGINE,
    new_key,
    scalar,
    until_another_waits_for_a_lock,
)

pytestmark = pytest.mark.race

ROUNDS = 12
BLOCK_RULE = fraud.RuleInput(key="velocity-block", signal="deposit_velocity", threshold=1.0,
                             weight=60, action="AUTO_BLOCK")  # fmt: skip
FLAG_RULE = fraud.RuleInput(key="velocity-flag", signal="deposit_velocity", threshold=1.0,
                            weight=10, action="FLAG")  # fmt: skip


async def _save_rules(db: Database, *rules: fraud.RuleInput) -> None:
    async with db.transaction() as session:
        for rule in rules:
            await fraud.save_rule(session, rule, "staff:compliance-1")


def _deposit_event(player_id: uuid.UUID) -> Any:
    """A ``wallet.deposited`` outbox row as the consumer reads it."""
    data = {"playerId": str(player_id), "amount": "10.00", "currency": "EUR"}
    return SimpleNamespace(type="wallet.deposited", subject=str(player_id), data=data,
                           event_id=uuid.uuid4(), time=datetime.now(UTC))  # fmt: skip


async def _score(db: Database, settings: Settings, player_id: uuid.UUID) -> list[str]:
    """One consumer round's transaction scoring one of the player's events."""
    async with db.transaction() as session:
        return await consumer.apply_event(
            session, _deposit_event(player_id), settings, fraud.RuleCache(), {}
        )


async def _status_changes(db: Database, player_id: uuid.UUID) -> int:
    return int(await scalar(db, "SELECT count(*) FROM outbox_events WHERE subject = :p AND "
                                "type = 'player.status_changed'", p=str(player_id)))  # fmt: skip


async def _new_player(db: Database, settings: Settings) -> uuid.UUID:
    return (await create_player(db, settings)).id


async def test_two_fraud_evaluations_blocking_one_player_at_once_both_finish(db, settings):
    await _save_rules(db, BLOCK_RULE)
    for _ in range(ROUNDS):
        player = await _new_player(db, settings)

        both = await asyncio.gather(_score(db, settings, player), _score(db, settings, player),
                                    return_exceptions=True)  # fmt: skip

        assert [r for r in both if isinstance(r, BaseException)] == []
        assert sorted(both) == [[], ["velocity-block"]]  # one hit, seen new by the first
        assert await scalar(db, "SELECT status FROM players WHERE id = :p", p=player) == "BLOCKED"
        assert await _status_changes(db, player) == 1


async def test_an_auto_block_and_a_staff_block_of_one_case_at_once_both_finish(db, settings):
    """The consumer opens (or touches) the player's case under the player row lock; a
    case decision takes the player row before the case, in the same order."""
    await _save_rules(db, FLAG_RULE)
    players_and_cases = []
    for _ in range(ROUNDS):
        player = await _new_player(db, settings)
        assert await _score(db, settings, player) == ["velocity-flag"]
        case = await scalar(db, "SELECT id FROM fraud_cases WHERE player_id = :p", p=player)
        players_and_cases.append((player, case))
    await _save_rules(db, BLOCK_RULE)

    async def decide(case_id: uuid.UUID) -> Any:
        async with db.transaction() as session:
            return await fraud.decide_case(session, case_id, Decision.BLOCK, "bot confirmed",
                                           Actor("staff:compliance-1"))  # fmt: skip

    for player, case in players_and_cases:
        both = await asyncio.gather(_score(db, settings, player), decide(case),
                                    return_exceptions=True)  # fmt: skip

        assert [r for r in both if isinstance(r, BaseException)] == []
        assert await scalar(db, "SELECT status FROM players WHERE id = :p", p=player) == "BLOCKED"
        assert await _status_changes(db, player) == 1  # whoever came second found it blocked


async def test_a_money_operation_does_not_wait_for_a_status_change(db, settings, player_factory):
    """A bet's writes check their foreign keys on the player (FOR KEY SHARE), which a
    status change holding the row FOR UPDATE made wait; such a change that then takes the
    wallets (a self-exclusion forfeiting a bonus) deadlocked with a bet holding them."""
    player = uuid.UUID(await player_factory())
    async with db.driver_transaction() as tx:
        await ledger.deposit(tx, settings, GAME_ENGINE, player_id=player, amount="50.00",
                             currency="EUR", payment_reference="p-1",
                             idempotency_key=new_key())  # fmt: skip
    for i in range(ROUNDS):
        async with db.driver_transaction() as tx:
            await _reserve(tx, settings, player, i)

        async with db.transaction() as status_change:
            status = PlayerStatus.BLOCKED if i % 2 else PlayerStatus.SELF_EXCLUDED
            await players.set_status(status_change, player, status, "a status change", "staff")
            settle = asyncio.create_task(_settle(db, settings, player, i))
            done, _ = await asyncio.wait([settle], timeout=5.0)
            # then the wallets, in the ledger's lock order (as a bonus forfeit takes them)
            await status_change.execute(
                text("SELECT id FROM wallets WHERE player_id = :p ORDER BY id FOR UPDATE"),
                {"p": player},
            )
        assert done, "the settlement waited for the status change"
        assert (await settle).body["status"] == "OK"
        await _reopen(db, player)
    assert await scalar(db, "SELECT count(*) FROM game_rounds WHERE status = 'OPEN'") == 0


async def _reserve(tx: Any, settings: Settings, player: uuid.UUID, i: int) -> None:
    out = await ledger.reserve_bet(tx, settings, GAME_ENGINE, player_id=player, amount="1.00",
                                   currency="EUR", game_round_id=f"r{i}",
                                   transaction_id=f"b{i}", idempotency_key=new_key())  # fmt: skip
    assert out.body["status"] == "OK", out.body


async def _settle(db: Database, settings: Settings, player: uuid.UUID, i: int) -> Any:
    async with db.driver_transaction() as tx:
        return await ledger.settle_bet(
            tx, settings, GAME_ENGINE, player_id=player, reservation_id=None,
            game_round_id=f"r{i}", win_amount="2.00", currency="EUR", transaction_id=f"w{i}",
            idempotency_key=new_key(),
        )  # fmt: skip


async def _reopen(db: Database, player: uuid.UUID) -> None:
    async with db.transaction() as session:
        await players.set_status(session, player, PlayerStatus.ACTIVE, "reopened", "staff")


async def test_a_consumer_round_locks_its_players_in_id_order(db, settings, caplog):
    """Events of players b then a (a < b) while another transaction holds a and then asks
    for b, as an import or consents batch locks players (by id): the round takes its
    players in id order first, so it waits for a holding nothing the other needs; in
    event order it held b while waiting for a, and PostgreSQL aborted its batch
    (deadlock) to go event by event."""
    caplog.set_level(logging.DEBUG, logger="app.events.consumer")
    a, b = sorted([await _new_player(db, settings), await _new_player(db, settings)])
    async with db.transaction() as session:
        for player in (b, a):
            await outbox.record(session, consumer.LOGIN_FAILED, str(player),
                                {"playerId": str(player)})  # fmt: skip
    other = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    lock = "SELECT 1 FROM players WHERE id = $1 FOR NO KEY UPDATE"
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute(lock, a)
        round_ = asyncio.create_task(consumer.consume_events(db, settings))
        await until_another_waits_for_a_lock(other)  # the round, for a
        await other.execute(lock, b)
        await tx.commit()
        handled = await round_
    finally:
        await other.close()

    assert handled >= 2
    assert not [r for r in caplog.records if "going event by event" in r.getMessage()]
    for player in (a, b):
        assert await scalar(db, "SELECT count(*) FROM fraud_activity WHERE player_id = :p "
                            "AND kind = 'login_failed'", p=player) == 1  # fmt: skip
