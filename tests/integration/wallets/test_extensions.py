"""A ledger extension shaped like the coming responsible-gambling limit: a counter read
in LOAD, a typed refusal before the debit, its write carried by APPLY. The money path
stays two statements, and a refusal leaves nothing written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from app.core.errors import DomainError
from app.core.settings import Settings
from app.ledger import hooks, kernel, service
from app.ledger.hooks import Debit
from app.ledger.operation import Operation
from app.ledger.repository import LoadParts
from app.ledger.write_repository import ApplyParts
from tests.integration.wallets.conftest import GAME_ENGINE, new_key, scalar, wallets_of


class LimitExceeded(DomainError):
    code = "TEST_LIMIT_EXCEEDED"


class OneBetLimit(hooks.ExtensionBase):
    """At most one bet reservation per player; each counted bet writes an outbox row."""

    name = "test-one-bet-limit"
    load_parts = LoadParts(
        ctes="""
, tlim AS (
    SELECT count(*) AS bets FROM ledger_holds
    WHERE player_id = $5 AND purpose = 'BET' AND (SELECT c FROM n) > 0
)""",
        columns=",\n       (SELECT bets FROM tlim) AS test_bets",
    )
    apply_parts = ApplyParts(
        ctes="""
, tlimw AS (
    INSERT INTO outbox_events (event_id, type, source, subject, data)
    SELECT gen_random_uuid(), 'test.bet_counted', 'urn:test', $9::text,
           jsonb_build_object('bets', $e0::bigint)
    WHERE $e0::bigint IS NOT NULL
)""",
        parameters=1,
    )

    def loaded(self, row: Mapping[str, Any]) -> int:
        return int(row["test_bets"] or 0)

    def apply_args(self, writes: Any | None) -> Sequence[Any]:
        return (writes,)

    def before_debit(self, op: Operation, debit: Debit) -> None:
        bets = op.loaded.extensions[self.name]
        if debit.purpose == "BET":
            if bets >= 1:
                raise LimitExceeded("one bet per player in this test")
            op.writes.extensions[self.name] = bets + 1


@pytest.fixture
def one_bet_limit() -> Iterator[None]:
    hooks.register(OneBetLimit())
    try:
        yield
    finally:
        hooks.unregister(OneBetLimit.name)


async def _fund(db: Any, settings: Settings, player: uuid.UUID) -> None:
    async with db.transaction() as session:
        out = await service.deposit(session, settings, GAME_ENGINE, player_id=player,
                                    amount="50.00", currency="EUR", payment_reference="p-1",
                                    idempotency_key=new_key())  # fmt: skip
        assert out.body["status"] == "OK"


async def _bet(session: Any, settings: Settings, player: uuid.UUID, key: str, n: int) -> Any:
    return await service.reserve_bet(session, settings, GAME_ENGINE, player_id=player,
                                     amount="1.00", currency="EUR", game_round_id=f"x{n}",
                                     transaction_id=f"xt{n}", idempotency_key=key)  # fmt: skip


ASYNCPG_INTROSPECTION = ("typeinfo_tree", "current_setting('jit')", "set_config('jit'")


async def test_an_extension_refuses_a_debit_inside_the_two_statements(
    db, settings, player_factory, one_bet_limit
):
    player = uuid.UUID(await player_factory())
    await _fund(db, settings, player)

    statements: list[str] = []
    async with db.transaction() as session:
        conn = await kernel.connection(session)

        def log(record: Any) -> None:
            # asyncpg's own type introspection on a new pool connection (its JIT guard, the
            # type query, the JIT restore) is not a statement of ours.
            if not any(mark in record.query for mark in ASYNCPG_INTROSPECTION):
                statements.append(record.query)

        conn.add_query_logger(log)
        try:
            first = await _bet(session, settings, player, new_key(), 1)
        finally:
            conn.remove_query_logger(log)  # the connection goes back to the pool
    assert first.body["status"] == "OK"
    # LOAD and APPLY, each carrying the extension's part: no extra round trip.
    assert len(statements) == 2, statements
    assert "tlim AS (" in statements[0] and "tlimw AS (" in statements[1]
    counted = await scalar(
        db, "SELECT data->>'bets' FROM outbox_events WHERE type = 'test.bet_counted'"
    )
    assert counted == "1"

    before = await wallets_of(db, str(player))
    refused_key = new_key()
    with pytest.raises(LimitExceeded):
        async with db.transaction() as session:
            await _bet(session, settings, player, refused_key, 2)
    # Rolled back whole: no hold, no key, no event, the wallets as they were.
    assert await wallets_of(db, str(player)) == before
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE player_id = :p",
                        p=player) == 1  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM idempotency_keys WHERE key = :k",
                        k=refused_key) == 0  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM outbox_events "
                            "WHERE type = 'test.bet_counted'") == 1  # fmt: skip


async def test_operations_that_need_an_unregistered_extension_refuse_to_run(db, settings):
    from app.bonuses import tasks

    hooks.unregister("bonuses")
    try:
        with pytest.raises(RuntimeError, match="bonuses"):
            await tasks.expire_bonuses(db, settings)
    finally:
        from pms.hooks import register_ledger_extensions

        register_ledger_extensions()
    assert "bonuses" in [e.name for e in hooks.registered()]
