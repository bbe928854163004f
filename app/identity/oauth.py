"""``POST /oauth/token``: Authlib's RFC 6749 AuthorizationServer behind a small Starlette
adapter, with the ``client_credentials`` grant (service clients, scoped) and the
``refresh_token`` grant (player and staff sessions, public first-party client ``pms-app``).

Authlib's server is synchronous and has no Starlette integration. The adapter runs
``create_token_response`` in a worker thread; the few storage hooks it calls (client
lookup, secret check, refresh rotation, token issue) hop back onto the event loop with
``run_coroutine_threadsafe``, so all I/O stays async and on the app's own pools.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, JsonRequest, OAuth2Request
from authlib.oauth2.rfc6749.util import scope_to_list
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.audit import service as audit
from app.core.logging import request_id_var
from app.core.principal import Principal, PrincipalKind
from app.identity import accounts, sessions
from app.identity.auth import current_generation
from app.identity.errors import InvalidRefreshToken
from app.identity.models import OAuthClient
from app.identity.runtime import IdentityRuntime
from app.identity.tokens import issue_access_token

log = logging.getLogger(__name__)
FIRST_PARTY_CLIENT_ID = "pms-app"
BRIDGE_TIMEOUT_SECONDS = 10.0
T = TypeVar("T")


class _Bridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(BRIDGE_TIMEOUT_SECONDS)


class _Client(ClientMixin):
    def __init__(self, row: OAuthClient | None, server: _Server) -> None:
        self.row = row
        self.server = server
        self.client_id = row.client_id if row else FIRST_PARTY_CLIENT_ID
        self.scopes = list(row.scopes) if row else []

    @property
    def public(self) -> bool:
        return self.row is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(self.scopes)
        return " ".join(s for s in scope_to_list(scope) if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        if self.row is None:
            return False
        settings = self.server.runtime.settings
        return self.server.bridge.run(
            accounts.check_client_secret(self.row, client_secret, settings)
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == ("refresh_token" if self.public else "client_credentials")


class _ScopedClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_requested_scope(self) -> None:
        requested = set(scope_to_list(self.request.payload.scope) or [])
        if not requested <= set(self.request.client.scopes):
            raise InvalidScopeError()


class _RotatedRefresh:
    """What ``authenticate_refresh_token`` returns: the already rotated session."""

    def __init__(self, pair: sessions.TokenPair) -> None:
        self.pair = pair

    def check_client(self, client: _Client) -> bool:
        return client.public

    def get_scope(self) -> str:
        return ""


class _RotatingRefresh(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _RotatedRefresh | None:
        server: _Server = self.server
        try:
            pair = server.bridge.run(sessions.refresh(server.runtime, refresh_token))
        except InvalidRefreshToken as exc:
            server.failure = exc.message
            return None
        server.issued_to = pair.principal.key
        return _RotatedRefresh(pair)

    def authenticate_user(self, refresh_token: _RotatedRefresh) -> Principal:
        return refresh_token.pair.principal

    def issue_token(self, user: Principal, refresh_token: _RotatedRefresh) -> dict[str, Any]:
        pair = refresh_token.pair
        return {"token_type": "Bearer", "access_token": pair.access_token,
                "refresh_token": pair.refresh_token, "expires_in": pair.expires_in}  # fmt: skip

    def revoke_old_credential(self, refresh_token: _RotatedRefresh) -> None:
        return None  # rotation already consumed it (sessions.refresh)


class _Server(AuthorizationServer):
    def __init__(self, runtime: IdentityRuntime, bridge: _Bridge) -> None:
        super().__init__()
        self.runtime = runtime
        self.bridge = bridge
        self.failure: str | None = None
        self.issued_to: str | None = None
        self.register_grant(_ScopedClientCredentials)
        self.register_grant(_RotatingRefresh)
        self.register_token_generator("client_credentials", self._service_token)

    def query_client(self, client_id: str) -> _Client | None:
        if client_id == FIRST_PARTY_CLIENT_ID:
            return _Client(None, self)
        row = self.bridge.run(self._load_client(client_id))
        return _Client(row, self) if row is not None and row.active else None

    async def _load_client(self, client_id: str) -> OAuthClient | None:
        async with self.runtime.db.read_session() as session:
            return await accounts.get_client(session, client_id)

    def _service_token(
        self, grant_type: str, client: _Client, user: Any = None, scope: str | None = None,
        expires_in: int | None = None, include_refresh_token: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        granted = client.get_allowed_scope(scope)
        principal = Principal(
            PrincipalKind.SERVICE, id=client.client_id, scopes=frozenset(scope_to_list(granted))
        )
        token, ttl = self.bridge.run(self._issue(principal))
        self.issued_to = principal.key
        return {"token_type": "Bearer", "access_token": token, "expires_in": ttl, "scope": granted}

    async def _issue(self, principal: Principal) -> tuple[str, int]:
        generation = await current_generation(self.runtime, principal.key)
        return await issue_access_token(
            principal, self.runtime.keyring, self.runtime.settings, generation=generation
        )

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        return None  # access tokens are self-contained JWTs; refresh state lives in sessions

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def create_json_request(self, request: Any) -> JsonRequest:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class _FormRequest(OAuth2Request):
    def __init__(self, request: Request, form: dict[str, str]) -> None:
        # TLS ends at the proxy; Authlib's transport check sees the public https URL.
        super().__init__(request.method, str(request.url.replace(scheme="https")), None,
                         request.headers)  # fmt: skip
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


def token_endpoint(runtime: Callable[[], IdentityRuntime]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> JSONResponse:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            problem = {"error": "invalid_request", "error_description": "form body expected"}
            return JSONResponse(problem, 400)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        identity = runtime()
        server = _Server(identity, _Bridge(asyncio.get_running_loop()))
        status, body, headers = await asyncio.to_thread(
            server.create_token_response, _FormRequest(request, form)
        )
        grant = form.get("grant_type", "")[:32]
        actor = audit.Actor(
            key=server.issued_to or f"client:{form.get('client_id', '?')[:64]}",
            ip=request.client.host if request.client else None,
            request_id=request_id_var.get(),
        )
        details: dict[str, Any] = {"grant_type": grant}
        if status != 200:
            details["error"] = body.get("error") if isinstance(body, dict) else None
            if server.failure:
                details["reason"] = server.failure
        await audit.record_now(
            identity.db, actor, "oauth.token", None,
            audit.SUCCESS if status == 200 else audit.FAILURE, details,
        )  # fmt: skip
        return JSONResponse(body, status, headers=dict(headers or []))

    return endpoint
