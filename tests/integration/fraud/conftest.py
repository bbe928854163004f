"""Fixtures of the anti-fraud tests: the wallets' clients, COMPLIANCE's GraphQL calls and
draining the fraud consumer (as its periodic task would)."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.db import Database
from app.core.settings import Settings
from app.fraud.consumer import consume_events
from tests.auth import staff_principal
from tests.integration.wallets import conftest as wallets

wallet_gql = wallets.wallet_gql
player_factory = wallets.player_factory

COMPLIANCE = staff_principal("COMPLIANCE", "compliance-1")
SUPPORT = staff_principal("SUPPORT", "support-1")

SAVE_RULE = """mutation($i: FraudRuleInput!) { saveFraudRule(input: $i) {
  __typename
  ... on FraudRule { id key version signal threshold weight action enabled }
  ... on InvalidFraudRuleError { code field message }
  ... on UserError { code message }
} }"""

RISK = """query($id: ID!) { player(id: $id) { status riskScore
  riskSignals { rule signal value weight action evidence caseId } } }"""


async def drain(db: Database, settings: Settings) -> int:
    """Run the fraud consumer until it has nothing left; events handled."""
    total = 0
    while (handled := await consume_events(db, settings)) > 0:
        total += handled
    return total


async def save_rule(gql: wallets.WalletGQL, **fields: Any) -> dict[str, Any]:
    fields.setdefault("weight", 40)
    fields.setdefault("action", "FLAG")
    body = await gql.raw(SAVE_RULE, {"i": fields}, as_=COMPLIANCE)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["saveFraudRule"]
    return result


async def risk(gql: wallets.WalletGQL, player: str, as_: Any = COMPLIANCE) -> dict[str, Any]:
    body = await gql.raw(RISK, {"id": player}, as_=as_)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["player"]
    return result


@pytest.fixture
async def default_rules(db: Database) -> int:
    from app.fraud.defaults import seed

    async with db.transaction() as session:
        return await seed(session)
