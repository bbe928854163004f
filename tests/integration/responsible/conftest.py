"""Fixtures of the responsible-gambling tests: limits set through the service (as the
player), money moved through the ledger's own service functions in real transactions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.audit.service import Actor
from app.core.db import Database
from app.core.settings import Settings
from app.ledger import service as ledger
from app.responsible import service as rg
from app.responsible.models import LimitKind, LimitPeriod
from tests.integration.wallets.conftest import (
    GAME_ENGINE,
    new_key,
    player_factory,
    scalar,
    wallet_gql,
)

__all__ = ["player_factory", "wallet_gql"]


def player_caller(player_id: str) -> rg.Caller:
    return rg.Caller(Actor(f"player:{player_id}"), is_player=True)


STAFF = rg.Caller(Actor("staff:support-1"), is_player=False)


class Money:
    """Money moves for one player, each in its own committed transaction."""

    def __init__(self, db: Database, settings: Settings, player: str) -> None:
        self.db, self.settings, self.player = db, settings, uuid.UUID(player)

    async def set_limit(self, kind: str, period: str, amount: str, **kw: Any) -> Any:
        caller = kw.pop("caller", player_caller(str(self.player)))
        async with self.db.transaction() as s:
            return await rg.set_limit(s, self.settings, caller, player_id=self.player,
                                      kind=LimitKind(kind), period=LimitPeriod(period),
                                      amount=amount, **kw)  # fmt: skip

    async def deposit(self, amount: str, key: str | None = None) -> dict[str, Any]:
        async with self.db.transaction() as s:
            out = await ledger.deposit(s, self.settings, GAME_ENGINE, player_id=self.player,
                                       amount=amount, currency="EUR", payment_reference="p-1",
                                       idempotency_key=key or new_key())  # fmt: skip
        return out.body

    async def bet(self, amount: str, n: str) -> dict[str, Any]:
        async with self.db.transaction() as s:
            out = await ledger.reserve_bet(
                s, self.settings, GAME_ENGINE, player_id=self.player, amount=amount,
                currency="EUR", game_round_id=f"r{n}", transaction_id=f"b{n}",
                idempotency_key=new_key(),
            )  # fmt: skip
        return out.body

    async def settle(self, n: str, win: str) -> dict[str, Any]:
        async with self.db.transaction() as s:
            out = await ledger.settle_bet(s, self.settings, GAME_ENGINE, player_id=self.player,
                                          reservation_id=None, game_round_id=f"r{n}",
                                          win_amount=win, currency="EUR", transaction_id=f"w{n}",
                                          idempotency_key=new_key())  # fmt: skip
        return out.body

    async def cancel(self, reservation_id: str) -> dict[str, Any]:
        async with self.db.transaction() as s:
            out = await ledger.cancel_bet(s, self.settings, GAME_ENGINE, player_id=self.player,
                                          reservation_id=int(reservation_id),
                                          idempotency_key=new_key())  # fmt: skip
        return out.body

    async def refund_round(self, n: str) -> dict[str, Any]:
        async with self.db.transaction() as s:
            out = await ledger.rollback_round(s, self.settings, GAME_ENGINE, player_id=self.player,
                                              game_round_id=f"r{n}", transaction_id=f"rb{n}",
                                              idempotency_key=new_key())  # fmt: skip
        return out.body

    async def used(self, kind: str, period: str = "DAY") -> int:
        sql = ("SELECT used FROM gambling_limits WHERE player_id = :p AND kind = :k "
               "AND period = :d")  # fmt: skip
        return int(await scalar(self.db, sql, p=self.player, k=kind, d=period))


@pytest.fixture
def money(db: Database, settings: Settings, player_factory: Any) -> Any:
    async def make(deposit: str | None = "100.00") -> Money:
        m = Money(db, settings, await player_factory())
        if deposit:
            await m.deposit(deposit)
        return m

    return make
