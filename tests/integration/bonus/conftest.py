"""Fixtures of the bonus tests. Every GraphQL call goes through ``bonus_gql`` (which
wraps the wallets' ``wallet_gql``), so access control is added in one place."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.principal import Principal
from tests.auth import player_principal, staff_principal
from tests.integration.wallets import conftest as wallets
from tests.integration.wallets.conftest import FINANCE, GAME_ENGINE, WalletGQL, new_key

# The wallets' fixtures, shared (this package is not below tests/integration/wallets).
wallet_gql = wallets.wallet_gql
isolated_wallet_gql = wallets.isolated_wallet_gql
player_factory = wallets.player_factory

BONUS_FIELDS = """
    __typename
    ... on PlayerBonus {
      id campaignId playerId kind status amount { amount currency }
      wagering { required { amount } wagered { amount } remaining { amount } percent fulfilled }
      released { amount } returned { amount } expiresAt
    }
    ... on ValidationError { code field message fieldErrors { field message } }
    ... on UserError { code message }
"""

CAMPAIGN_FIELDS = """
    __typename
    ... on BonusCampaign { id name kind trigger status percent currency
                           contributions { category percent } }
    ... on ValidationError { code field message fieldErrors { field message } }
    ... on UserError { code message }
"""

MUTATIONS = (
    {
        "createBonusCampaign": "mutation($input: CreateBonusCampaignInput!) "
        f"{{ createBonusCampaign(input: $input) {{ {CAMPAIGN_FIELDS} }} }}",
    }
    | {
        name: f"mutation($id: ID!) {{ {name}(id: $id) {{ {CAMPAIGN_FIELDS} }} }}"
        for name in ("pauseBonusCampaign", "resumeBonusCampaign")
    }
    | {
        name: f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {BONUS_FIELDS} }} }}"
        for name, input_type in {
            "grantBonus": "GrantBonusInput",
            "cancelBonus": "EndBonusInput",
            "forfeitBonus": "EndBonusInput",
            "creditFreeSpinsWin": "FreeSpinsWinInput",
        }.items()
    }
)


MARKETER = staff_principal("MARKETER", "marketer-1")


def caller_of(name: str, fields: dict[str, Any]) -> Principal:
    """Who performs a bonus operation: the player forfeits their own bonus, the game engine
    credits free-spin wins, a marketer runs campaigns and manual grants."""
    if name == "forfeitBonus":
        return player_principal(fields["playerId"])
    if name == "creditFreeSpinsWin":
        return GAME_ENGINE
    return MARKETER


class BonusGQL:
    def __init__(self, wallet: WalletGQL) -> None:
        self.wallet = wallet

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Principal = FINANCE
    ) -> dict[str, Any]:
        return await self.wallet.raw(query, variables, as_=as_)

    async def campaign(self, **fields: Any) -> dict[str, Any]:
        fields = {"name": "Welcome", "currency": "EUR", **fields}
        body = await self.raw(MUTATIONS["createBonusCampaign"], {"input": fields}, as_=MARKETER)
        assert "errors" not in body, body
        return body["data"]["createBonusCampaign"]

    async def status(self, name: str, campaign_id: str) -> dict[str, Any]:
        body = await self.raw(MUTATIONS[name], {"id": campaign_id}, as_=MARKETER)
        assert "errors" not in body, body
        return body["data"][name]

    async def op(self, name: str, **fields: Any) -> dict[str, Any]:
        if name not in MUTATIONS:
            return await self.wallet.op(name, **fields)
        fields.setdefault("idempotencyKey", new_key())
        body = await self.raw(MUTATIONS[name], {"input": fields}, as_=caller_of(name, fields))
        assert "errors" not in body, body
        return body["data"][name]


@pytest.fixture
def bonus_gql(wallet_gql: WalletGQL) -> BonusGQL:
    return BonusGQL(wallet_gql)


@pytest.fixture
def isolated_bonus_gql(isolated_wallet_gql: WalletGQL) -> BonusGQL:
    return BonusGQL(isolated_wallet_gql)


DEPOSIT_MATCH = {
    "kind": "DEPOSIT_MATCH", "trigger": "FIRST_DEPOSIT", "percent": "100",
    "maxAmount": "100.00", "minDeposit": "10.00", "wageringMultiplier": "10",
}  # fmt: skip
