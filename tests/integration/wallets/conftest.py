"""Fixtures of the wallet/ledger tests. Every GraphQL call goes through ``wallet_gql``,
so access control (a service token with ``wallet:operate``) is added in one place."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.core.db import Database
from app.core.principal import Principal
from app.core.settings import Settings
from pms.asgi import create_app
from tests.auth import service_principal, staff_principal, token_for
from tests.conftest import GraphQLClient
from tests.factories import create_player

_keys = itertools.count(1)

OPERATION_FIELDS = """
    __typename
    ... on WalletOperation {
      operation operationId playerId reservationId gameRoundId
      transfers { kind walletKind amount { amount currency } }
      holds { walletKind amount { amount currency } }
      wallets { kind currency balance { amount } held { amount } available { amount } }
    }
    ... on InsufficientFunds { code message wallets { kind available { amount } } }
    ... on ValidationError { code field message }
    ... on UserError { code message }
"""

MUTATIONS = {
    name: f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {OPERATION_FIELDS} }} }}"
    for name, input_type in {
        "reserveBet": "ReserveBetInput",
        "settleBet": "SettleBetInput",
        "cancelBet": "CancelBetInput",
        "rollbackBet": "RollbackBetInput",
        "rollbackRound": "RollbackRoundInput",
        "deposit": "DepositInput",
        "withdraw": "WithdrawInput",
        "confirmWithdrawal": "WithdrawalDecisionInput",
        "rejectWithdrawal": "WithdrawalDecisionInput",
        "chargeFee": "ChargeFeeInput",
        "adjustBalance": "AdjustBalanceInput",
        "grantFreeSpins": "FreeSpinsInput",
        "consumeFreeSpins": "FreeSpinsInput",
        "creditTournament": "TournamentInput",
        "debitTournament": "TournamentInput",
    }.items()
}


def new_key() -> str:
    return f"key-{next(_keys)}-{uuid.uuid4().hex[:8]}"


GAME_ENGINE = service_principal(
    "wallet:operate", "wallet:read", "player:read", client_id="game-engine"
)
FINANCE = staff_principal("FINANCE", "finance-officer")
# Staff-only money operations (wallet:adjust is never a service scope).
STAFF_OPERATIONS = {"adjustBalance"}


class WalletGQL:
    """Posts wallet operations through the real ASGI app with real access tokens: the game
    engine (a service client with wallet:operate) for money operations, a FINANCE staff
    member for staff operations and reads (history, reconciliation)."""

    def __init__(self, gql: GraphQLClient, app: Any) -> None:
        self.gql = gql
        self.app = app
        self._headers: dict[str, dict[str, str]] = {}

    async def headers(self, principal: Principal) -> dict[str, str]:
        if principal.key not in self._headers:
            token = await token_for(self.app, principal)
            self._headers[principal.key] = {"authorization": f"Bearer {token}"}
        return self._headers[principal.key]

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Principal = FINANCE
    ) -> dict[str, Any]:
        return await self.gql(query, variables, **await self.headers(as_))

    async def op(self, name: str, **fields: Any) -> dict[str, Any]:
        """Run mutation ``name``; a fresh idempotency key unless one is given."""
        fields.setdefault("idempotencyKey", new_key())
        caller = FINANCE if name in STAFF_OPERATIONS else GAME_ENGINE
        body = await self.raw(MUTATIONS[name], {"input": fields}, as_=caller)
        assert "errors" not in body, body
        return body["data"][name]


def make_wallet_gql(http: httpx.AsyncClient, app: Any) -> WalletGQL:
    return WalletGQL(GraphQLClient(http), app)


@pytest.fixture
async def wallet_gql(client: httpx.AsyncClient, app: Any) -> WalletGQL:
    return make_wallet_gql(client, app)


@pytest.fixture
async def isolated_wallet_gql(settings: Settings, db: Database) -> AsyncIterator[WalletGQL]:
    """The app on its own small pool (race tests: bounded connections on a shared server)."""
    database = Database(settings.database_url or "", pool_size=16, max_overflow=0)
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
        yield make_wallet_gql(http, app)
    await database.dispose()


@pytest.fixture
def player_factory(db: Database, settings: Settings):
    """Registered players, KYC-verified unless ``verified=False`` (withdrawals need it)."""

    async def make(*, verified: bool = True, **overrides: Any) -> str:
        player = await create_player(db, settings, **overrides)
        if verified:
            async with db.transaction() as session:
                await session.execute(
                    text("UPDATE players SET confirm_status = 'VERIFIED' WHERE id = :id"),
                    {"id": player.id},
                )
        return str(player.id)

    return make


async def until_another_waits_for_a_lock(conn: Any) -> None:
    """Polls on ``conn`` (an asyncpg connection holding the lock under test) until some
    other backend waits for a lock; fails after five seconds."""
    for _ in range(500):
        if await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE "
            "wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ):
            return  # fmt: skip
        await asyncio.sleep(0.01)
    raise AssertionError("no other transaction waited for the lock")


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.read_session() as session:
        return (await session.execute(text(sql), params)).scalar()


async def table_counts(db: Database) -> dict[str, int]:
    tables = ["ledger_transfers", "ledger_holds", "game_rounds", "game_transactions",
              "idempotency_keys", "outbox_events", "house_accounts"]  # fmt: skip
    return {t: await scalar(db, f"SELECT count(*) FROM {t}") for t in tables}


async def wallets_of(db: Database, player_id: str) -> dict[str, dict[str, int]]:
    async with db.read_session() as session:
        rows = await session.execute(
            text("SELECT kind, balance, held, turnover FROM wallets WHERE player_id = :p"),
            {"p": uuid.UUID(player_id)},
        )
        return {
            r.kind: {"balance": r.balance, "held": r.held, "turnover": r.turnover} for r in rows
        }


async def assert_ledger_consistent(db: Database) -> None:
    """balance = sum of entries per wallet, held = pending holds, every currency sums to
    zero, no negative figure anywhere."""
    from app.ledger.reconcile import verify

    async with db.transaction() as session:
        report = await verify(session)
    assert report.ok, [m.describe() for m in report.mismatches]
    negatives = await scalar(
        db, "SELECT count(*) FROM wallets WHERE balance < 0 OR held < 0 OR balance < held"
    )
    assert negatives == 0
