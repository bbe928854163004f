"""Real access tokens for tests: mint a token for any principal with the app's own key ring.

    async def test_x(gql, auth, player):
        body = await gql(QUERY, **await auth.player_headers(player))
        body = await gql(QUERY, **await auth.staff_headers("SUPPORT"))
        body = await gql(QUERY, **await auth.service_headers("wallet:operate"))

Or without the fixture: ``await token_for(app, principal)``; WebSocket tests pass the same
token in ``connection_init``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.core.principal import Principal, PrincipalKind
from app.identity.tokens import issue_access_token


def player_principal(player: Any) -> Principal:
    """A player principal from a Player row or a player id."""
    player_id = getattr(player, "id", player)
    return Principal(PrincipalKind.PLAYER, id=str(player_id))


def staff_principal(role: str, staff_id: Any = None) -> Principal:
    return Principal(PrincipalKind.STAFF, id=str(staff_id or uuid.uuid4()), roles=frozenset({role}))


def service_principal(*scopes: str, client_id: str = "test-service") -> Principal:
    return Principal(PrincipalKind.SERVICE, id=client_id, scopes=frozenset(scopes))


async def token_for(app: Any, principal: Principal, **kwargs: Any) -> str:
    runtime = app.state.pms.identity
    token, _ = await issue_access_token(principal, runtime.keyring, runtime.settings, **kwargs)
    return token


class Auth:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def token(self, principal: Principal, **kwargs: Any) -> str:
        return await token_for(self.app, principal, **kwargs)

    async def headers(self, principal: Principal, **kwargs: Any) -> dict[str, str]:
        return {"authorization": f"Bearer {await self.token(principal, **kwargs)}"}

    async def player_headers(self, player: Any) -> dict[str, str]:
        return await self.headers(player_principal(player))

    async def staff_headers(self, role: str, staff_id: Any = None) -> dict[str, str]:
        return await self.headers(staff_principal(role, staff_id))

    async def service_headers(
        self, *scopes: str, client_id: str = "test-service"
    ) -> dict[str, str]:
        return await self.headers(service_principal(*scopes, client_id=client_id))


@pytest.fixture
def auth(app: Any) -> Auth:
    return Auth(app)
