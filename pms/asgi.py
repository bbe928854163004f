"""The ASGI application: Starlette with the GraphQL endpoint, REST paths, health probes and
the lifespan that starts the database, identity, events and the periodic tasks."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import ProgrammingError, SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, Router, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import async_base_view
from strawberry.types.unset import UNSET

from app.audit.routes import audit_routes
from app.backoffice.routes import admin_routes
from app.core import graphiql, json_codec, migrations
from app.core.access_log import install_access_log_filter
from app.core.db import Database, EmbeddedPostgres, resolve_database_url
from app.core.edge import EdgeMiddleware
from app.core.graphql_http import GraphQLMediaTypes, bare_content_type
from app.core.http import UPLOAD_OVERHEAD_BYTES, BodyLimit
from app.core.logging import request_id_var
from app.core.principal import Principal
from app.core.replicas import ReadRouter
from app.core.route_shortcut import RouteShortcut
from app.core.settings import Settings, get_settings
from app.core.tasks import TaskRunner
from app.events import websocket as ws
from app.events.runtime import EventsRuntime
from app.events.ws_direct import DirectSocketMiddleware
from app.events.ws_handlers import TimedLegacyWSHandler, TimedTransportWSHandler
from app.exports.routes import export_routes
from app.identity.auth import authenticate_token
from app.identity.middleware import CLAIMS_SCOPE_KEY, PRINCIPAL_SCOPE_KEY, GraphQLGate
from app.identity.routes import identity_routes
from app.identity.runtime import IdentityRuntime
from app.identity.tokens import InvalidToken
from app.kyc.callbacks import callback_endpoint
from app.ledger.coalesce import Coalescer
from app.observability import tracing
from app.observability.db import instrument_pool
from app.observability.http import METRICS_PATH, MetricsAccess, metrics_endpoint
from pms import json_post, readiness
from pms.events import build_events
from pms.hooks import register_all
from pms.schema import build_schema
from pms.tasks import registered_tasks
from resolvers.loaders import Loaders
from resolvers.rest import rest_routes
from schema.context import Context
from schema.persisted_queries import PersistedQueries, PersistedQueryError

log = logging.getLogger(__name__)
GOING_AWAY = "Server shutting down"
_ACCEPT_CACHE_MAX = 256  # distinct Accept values remembered (a bound, not a tuning knob)


class AppState:
    """What lives for the whole process. Filled in by the lifespan (or a test)."""

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self._db = db
        self.events: EventsRuntime | None = None
        self.identity = IdentityRuntime(lambda: self.db, settings)
        self.websockets: set[Any] = set()  # open GraphQL WebSockets, closed on shutdown
        self.session_watch = ws.SessionWatch(
            settings.ws_session_check_seconds, ws.CLOSE_TOKEN_EXPIRED
        )
        self.persisted_queries = PersistedQueries(settings.persisted_queries_max)
        self.reads = ReadRouter.from_settings(settings)  # None without replicas
        self._coalescer: Coalescer | None = None

    @property
    def coalescer(self) -> Coalescer | None:
        """The group commit of single money operations, made on first use (the database
        may be started after this state); None when ``ledger_coalesce`` is off."""
        if self._coalescer is None and self.settings.ledger_coalesce:
            self._coalescer = Coalescer.from_settings(self.db, self.settings)
        return self._coalescer

    async def close_coalescer(self) -> None:
        if self._coalescer is not None:
            await self._coalescer.close()

    async def close_websockets(self) -> int:
        """Close every open WebSocket with 1001 (going away): clients reconnect to another
        replica at once; uvicorn itself would fail them with 1012 after draining."""
        sockets = list(self.websockets)
        await asyncio.gather(
            *(ws.close_websocket(s, 1001, "Server shutting down") for s in sockets)
        )
        return len(sockets)

    async def authenticator(self, token: str) -> ws.Caller:
        """Bearer-token check for WebSocket ``connection_init`` and the REST paths."""
        try:
            claims = await authenticate_token(token, self.identity)
        except InvalidToken as exc:
            raise ws.InvalidCredentials(exc.message) from None
        return ws.Caller(
            claims.principal, claims.expires_at, lambda: self._still_valid(token), claims, token
        )

    async def _still_valid(self, token: str) -> bool:
        try:
            await authenticate_token(token, self.identity)
        except InvalidToken:
            return False
        return True

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the database is not started (lifespan not run)")
        return self._db


class PMSGraphQL(GraphQL):
    websocket_adapter_class = ws.IdempotentCloseAdapter
    graphql_transport_ws_handler_class = TimedTransportWSHandler
    graphql_ws_handler_class = TimedLegacyWSHandler

    def __init__(self, schema: Any, state: AppState, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.state = state
        self.max_subscriptions_per_connection = state.settings.ws_max_subscriptions
        self.connection_init_wait_timeout = timedelta(seconds=10)
        self.operation_timeout_seconds = state.settings.request_timeout_seconds
        # POST application/json without Strawberry's generic view (pms/json_post.py);
        # off only where a test compares the two paths.
        self.json_fast_path = not schema.config.enable_experimental_incremental_execution
        self._stream_accept_cache: dict[str, bool] = {}

    def decode_json(self, data: str | bytes) -> object:
        return json_codec.decode(data)

    def encode_json(self, data: object) -> str:
        return json_codec.encode(data)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (self.json_fast_path and scope["type"] == "http"):
            await super().__call__(scope, receive, send)
        elif json_post.eligible(scope, self._stream_accepts):
            with _operation_tasks():
                await json_post.serve(self, scope, receive, send, super().__call__)
        else:
            await super().__call__(scope, receive, send)

    def _stream_accepts(self, accept: str) -> bool:
        """Whether ``accept`` asks for a streamed answer, kept per Accept value (clients
        send a handful; Strawberry parses the header for each transport, per request)."""
        known = self._stream_accept_cache.get(accept)
        if known is None:
            if len(self._stream_accept_cache) >= _ACCEPT_CACHE_MAX:
                self._stream_accept_cache.clear()
            known = any(t.accepts(accept) for t in self._stream_transport_map.values())
            self._stream_accept_cache[accept] = known
        return known

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        is_socket = isinstance(request, WebSocket)
        if is_socket:
            self.state.websockets.add(request)
        try:
            with _operation_tasks():
                return await super().run(request, context, root_value)
        except PersistedQueryError as exc:
            return Response(self.encode_json(exc.body()), exc.status, media_type="application/json")
        finally:
            if is_socket:
                self.state.websockets.discard(request)
                self.state.session_watch.discard(request)

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        """One HTTP operation, its document taken from the persisted queries when the
        request names one by hash (schema/persisted_queries.py)."""
        store = self.state.persisted_queries
        data, to_register = store.resolve(kwargs["request_data"])
        result = await super().execute_single(*args, **{**kwargs, "request_data": data})
        if to_register is not None and data.query and result.data is not None:
            store.register(to_register, data.query)  # it parsed and passed validation
        return result

    def should_render_graphql_ide(self, request: Any) -> bool:
        if request.method != "GET":  # the page is for GETs only: no query string parsed
            return False
        # A GET naming a persisted query has no ``query`` either (Apollo sends Accept: */*).
        if request.query_params.get("extensions") is not None:
            return False
        return bool(super().should_render_graphql_ide(request))

    async def render_graphql_ide(self, request: Any) -> Any:
        # The vendored page (app/core/graphiql.py): Strawberry's loads its assets from a CDN.
        return HTMLResponse(graphiql.page_html())

    async def on_ws_connect(self, context: Any) -> Any:
        """Authenticate ``connection_init``'s ``{"authorization": "Bearer <jwt>"}``."""
        token = ws.bearer_token(context.connection_params.get("authorization"))
        socket = context.request
        if token is None:
            await ws.close_websocket(socket, ws.CLOSE_NO_CREDENTIALS, "Forbidden: no token")
            raise ConnectionRejectionError
        try:
            caller = await self.state.authenticator(token)
        except ws.InvalidCredentials:
            await ws.close_websocket(socket, ws.CLOSE_INVALID_TOKEN, "Unauthorized: bad token")
            raise ConnectionRejectionError from None
        except Exception:
            # A dependency failed (session store down or saturated): not the client's fault.
            log.exception("WebSocket authentication failed unexpectedly")
            await ws.close_websocket(socket, 1011, "Authentication unavailable, retry")
            raise ConnectionRejectionError from None
        context.principal = caller.principal
        context.claims = caller.claims
        self.state.session_watch.add(socket, caller)
        return UNSET

    async def get_context(self, request: Any, response: Any) -> Any:
        db = self.state.db
        return Context(
            db=db,
            settings=self.state.settings,
            loaders=Loaders(db),
            request_id=request_id_var.get(),
            request=request,
            principal=request.scope.get(PRINCIPAL_SCOPE_KEY) or Principal.anonymous(),
            claims=request.scope.get(CLAIMS_SCOPE_KEY),
            identity=self.state.identity,
            events=self.state.events,
            reads=self.state.reads,
            coalescer=self.state.coalescer,
        )


@contextmanager
def _operation_tasks() -> Iterator[None]:
    """Tasks an operation starts for its connection (ws.connection_tasks) are cancelled
    when it ends."""
    tasks: list[asyncio.Task[Any]] = []
    token = ws.connection_tasks.set(tasks)
    try:
        yield
    finally:
        ws.connection_tasks.reset(token)
        for task in tasks:
            task.cancel()


async def flush_relay(events: EventsRuntime, seconds: float) -> None:
    """Deliver what is still in the outbox before the bus and hub close (the relay task
    was just stopped, maybe mid-pass); whatever is left waits for the next process."""
    try:
        async with asyncio.timeout(seconds):
            delivered = await events.relay.run()
    except TimeoutError:
        log.warning("shutdown: outbox relay flush timed out after %.0fs", seconds)
        return
    if delivered:
        log.info("shutdown: relay flushed %d event(s)", delivered)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Starlette:
    """Build the app. With ``database`` given (tests) the caller owns its lifecycle."""
    settings = settings or get_settings()
    register_all()
    _install_bare_content_type()
    _install_streaming_result_check()
    install_access_log_filter()
    tracing.configure(settings)  # a no-op (and no import) unless PMS_OTEL_ENDPOINT is set
    state = AppState(settings, database)
    graphql = PMSGraphQL(
        build_schema(settings),
        state=state,
        graphql_ide="graphiql" if settings.is_dev else None,
        # Marketing-list uploads (uploadMarketingList). Bearer tokens, not cookies,
        # authenticate callers, so a cross-site form post carries no credentials.
        multipart_uploads_enabled=True,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        embedded: EmbeddedPostgres | None = None
        if database is None:
            url, embedded = await asyncio.to_thread(resolve_database_url, settings)
            state._db = Database.from_settings(settings, url)
        instrument_pool(state.db.engine)
        if state.reads is not None:
            await state.reads.start(state.db)
        await state.identity.start()
        state.events = build_events(state.db, settings)
        await state.events.start()
        runner = TaskRunner(state.db, settings, registered_tasks(settings, state.events))
        if settings.run_background_tasks:
            runner.start()
        _freeze_startup_objects()
        try:
            yield
        finally:
            await runner.stop()
            await state.close_coalescer()  # queued money operations finish and commit
            if settings.run_background_tasks:
                await flush_relay(state.events, settings.shutdown_timeout_seconds)
            await state.events.stop()
            await state.identity.stop()
            if state.reads is not None:
                await state.reads.stop()
            if database is None:
                await state.db.dispose()
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            async with state.db.engine.connect() as conn:
                current = await migrations.current_revisions(conn)
        except ProgrammingError:  # no alembic_version table: never migrated
            current = frozenset()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("readiness: database unreachable: %s", exc)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        expected = migrations.head_revisions()
        if current != expected:
            return JSONResponse(
                {"status": "unavailable", "database": "migrations pending",
                 "current": sorted(current), "expected": sorted(expected)},
                503,
            )  # fmt: skip
        others = await readiness.dependencies(settings)
        ok = all(v == "ok" for v in others.values())
        body = {"status": "ok" if ok else "unavailable", "database": "ok", **others}
        if state.events is not None:  # informational: the fallback poll relays meanwhile
            body["relay_wakeup"] = state.events.wakeup_state()
        return JSONResponse({**body, "migrations": sorted(current)}, 200 if ok else 503)

    graphql_route = Route(
        "/graphql",
        GraphQLMediaTypes(
            GraphQLGate(graphql, lambda: state.identity, settings.request_timeout_seconds)
        ),
        methods=["GET", "POST"],
    )
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            graphql_route,
            *identity_routes(lambda: state.identity),
            *audit_routes(lambda: state.db),
            *export_routes(lambda: state.db),
            WebSocketRoute(
                "/graphql",
                ws.WebSocketMessageLimit(graphql, settings.ws_max_message_bytes),
            ),
            *rest_routes(state),
            *_observability_routes(settings),
            *(admin_routes() if settings.admin_dashboard else []),
            Route(
                "/kyc/callbacks/{provider}",
                callback_endpoint(lambda: state.db, settings),
                methods=["POST"],
            ),
        ],
        middleware=[
            # Outermost, where ``send`` is still uvicorn's: shared subscription frames
            # are written straight to the socket (app/events/ws_direct.py).
            Middleware(DirectSocketMiddleware, limit=settings.ws_write_buffer_limit_bytes),
            *tracing.asgi_middleware(),  # the span covers the whole request
            # Request id, body limit, error boundary, HTTP metrics, security headers:
            # one layer (app/core/edge.py).
            Middleware(
                EdgeMiddleware,
                body=BodyLimit(
                    settings.max_body_bytes,
                    upload_max_bytes=settings.import_max_bytes + UPLOAD_OVERHEAD_BYTES,
                    upload_paths=("/graphql", "/imports"),
                ),
            ),
            # GET/POST /graphql past the exception middleware and the router.
            Middleware(RouteShortcut, route=graphql_route, router=lambda: router),
        ],
        lifespan=lifespan,
    )
    router: Router = app.router
    app.state.pms = state
    return app


def _install_bare_content_type() -> None:
    """Strawberry's per-request Content-Type parsing, without its ``email.message`` for
    a bare media type (app/core/graphql_http.py). Idempotent."""
    view: Any = async_base_view  # the module's own import of the parser is what it calls
    full = view.parse_content_type
    if not hasattr(full, "__wrapped__"):
        parse: Any = bare_content_type(full)
        parse.__wrapped__ = full
        view.parse_content_type = parse


class _StreamingResultCheck(type):
    def __instancecheck__(cls, instance: object) -> bool:
        kind = type(instance)
        return hasattr(kind, "__aiter__") and hasattr(kind, "__anext__")


class _StreamingResult(metaclass=_StreamingResultCheck):
    """``isinstance(result, SubscriptionExecutionResult)`` as the view asks it after every
    HTTP operation, answered from the result's type: the runtime-checkable Protocol
    walks ``inspect.getattr_static`` per request (~1.5 % of a money request's CPU)."""


def _install_streaming_result_check() -> None:
    """The view's module-level name for the Protocol, only used in that check. Idempotent."""
    view: Any = async_base_view
    view.SubscriptionExecutionResult = _StreamingResult


def _freeze_startup_objects() -> None:
    """Move everything built at startup (the schema, its types and resolvers, SQLAlchemy
    metadata, the imported modules: about 225,000 tracked objects) out of the cyclic
    garbage collector's sight: every full collection walked them all again, 0.86 s
    measured on this busy 2-core machine, stalling every request in flight. (No collect
    first, for the same reason: startup stays fast.)"""
    gc.freeze()


def _observability_routes(settings: Settings) -> list[Any]:
    """``/metrics`` (unless a separate ``metrics_port`` serves it) and GraphiQL's vendored
    assets where the IDE is served (dev)."""
    routes: list[Any] = []
    if settings.metrics_port is None:
        access = MetricsAccess.from_settings(settings)
        routes.append(Route(METRICS_PATH, metrics_endpoint(access), methods=["GET"]))
    if settings.is_dev:
        routes.append(graphiql.assets_mount())
    return routes
