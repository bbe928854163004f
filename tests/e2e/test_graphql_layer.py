"""The GraphQL layer's shared machinery through the real ASGI app: constant statement
counts for nested player fields (one loader registry per request), one id parser
(ASCII digits / canonical UUIDs, a ValidationError naming the field), and the
per-mutation result unions derived from one declaration each."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.ledger.models import LedgerTransfer
from pms.schema import build_schema
from tests.conftest import count_statements
from tests.factories import create_player

FULLWIDTH_12 = "\uff11\uff12"  # full-width "12", as escapes (ruff flags the glyphs)

PLAYERS_DEEP = """
query($first: Int!) { players(first: $first) { edges { node {
  id wallets { kind } segments { id } loyalty { points tier } bonuses { id }
  kycCases { id } tags profile { firstName } playStyle { betCount }
} } } }
"""


async def _deep_statements(staff_gql, db, first: int) -> list[str]:
    with count_statements(db) as statements:
        body = await staff_gql(PLAYERS_DEEP, {"first": first})
    assert "errors" not in body, body
    assert len(body["data"]["players"]["edges"]) == first
    # The token's revocation check is cached after the first request: not a field's cost.
    return [s for s in statements if "FROM session_state" not in s]


async def test_nested_player_fields_cost_constant_statements(gql, auth, db, settings):
    """Given 3 and then 12 players, when a staff member lists them with wallets, segments,
    loyalty and the other nested fields, then both pages cost the same number of
    statements: one batch per field (Player.loyalty was one read per player before)."""
    headers = await auth.staff_headers("ADMIN")

    async def staff_gql(query, variables=None):
        return await gql(query, variables, **headers)

    for _ in range(12):
        await create_player(db, settings)

    small = await _deep_statements(staff_gql, db, 3)
    large = await _deep_statements(staff_gql, db, 12)

    assert len(large) == len(small), [" ".join(s.split()[:4]) for s in large]
    assert sum("FROM loyalty_accounts" in s for s in large) == 1
    assert sum("FROM wallets" in s for s in large) == 1


DEPOSIT = """
mutation($input: DepositInput!) { deposit(input: $input) {
  __typename ... on ValidationError { code field } ... on WalletOperation { operationId }
} }
"""
CANCEL = """
mutation($input: CancelBetInput!) { cancelBet(input: $input) {
  __typename ... on ValidationError { code field }
} }
"""
DECIDE = """
mutation($input: WithdrawalDecisionInput!) { confirmWithdrawal(input: $input) {
  __typename ... on ValidationError { code field }
} }
"""
BAD_INT_IDS = ["²", "①", FULLWIDTH_12, "-1", "", "1e3", "9223372036854775808", "12 ", "0x1"]


@pytest.fixture
async def engine_gql(gql, auth):
    headers = await auth.service_headers("wallet:operate")

    async def run(query, variables=None):
        return await gql(query, variables, **headers)

    return run


async def _transfers(db) -> int:
    async with db.read_session() as session:
        return (await session.execute(select(func.count()).select_from(LedgerTransfer))).scalar()


@pytest.mark.parametrize("raw", BAD_INT_IDS)
async def test_reservation_id_must_be_ascii_digits(engine_gql, db, settings, raw):
    player = await create_player(db, settings)
    before = await _transfers(db)

    body = await engine_gql(
        CANCEL,
        {"input": {"playerId": str(player.id), "reservationId": raw, "idempotencyKey": "k1"}},
    )

    assert body["data"]["cancelBet"] == {
        "__typename": "ValidationError", "code": "VALIDATION_ERROR", "field": "reservationId",
    }  # fmt: skip
    assert await _transfers(db) == before


@pytest.mark.parametrize("raw", BAD_INT_IDS)
async def test_withdrawal_id_must_be_ascii_digits(engine_gql, db, settings, raw):
    player = await create_player(db, settings)

    body = await engine_gql(
        DECIDE,
        {"input": {"playerId": str(player.id), "withdrawalId": raw, "idempotencyKey": "k2"}},
    )

    assert body["data"]["confirmWithdrawal"]["field"] == "withdrawalId"
    assert body["data"]["confirmWithdrawal"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("raw", ["not-a-uuid", FULLWIDTH_12, ""])
async def test_player_id_must_be_a_uuid(engine_gql, db, raw):
    before = await _transfers(db)

    body = await engine_gql(DEPOSIT, {"input": {
        "playerId": raw, "amount": "1.00", "currency": "EUR", "paymentReference": "psp-ref",
        "idempotencyKey": "k3",
    }})  # fmt: skip

    assert body["data"]["deposit"] == {
        "__typename": "ValidationError", "code": "VALIDATION_ERROR", "field": "playerId",
    }  # fmt: skip
    assert await _transfers(db) == before


def _union(sdl: str, name: str) -> set[str]:
    line = next(line for line in sdl.splitlines() if line.startswith(f"union {name} ="))
    return {member.strip() for member in line.split("=", 1)[1].split("|")}


def test_each_mutation_union_lists_only_its_errors(settings):
    sdl = build_schema(settings).as_str()

    deposit = _union(sdl, "DepositResult")
    settle = _union(sdl, "SettleBetResult")
    withdraw = _union(sdl, "WithdrawResult")

    assert "RoundNotFound" not in deposit and "ReservationNotFound" not in deposit
    assert "VerificationRequired" not in deposit and "MaxBetExceeded" not in deposit
    assert {"WalletOperation", "InsufficientFunds", "Forbidden"} <= deposit
    assert {"RoundNotFound", "ReservationNotFound"} <= settle
    assert "VerificationRequired" in withdraw
    assert "Forbidden" not in _union(sdl, "RegisterPlayerResult")  # public
