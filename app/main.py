"""The ASGI application: Starlette with the GraphQL endpoint, health probes and lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import ProgrammingError, SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from app import migrations
from app.db import Database, EmbeddedPostgres, resolve_database_url
from app.http import BodySizeLimitMiddleware, RequestIdMiddleware
from app.kyc.callbacks import callback_endpoint
from app.logging import request_id_var
from app.settings import Settings, get_settings
from app.tasks import TaskRunner, registered_tasks

log = logging.getLogger(__name__)


class AppState:
    """What lives for the whole process. Filled in by the lifespan (or a test)."""

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self._db = db

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the database is not started (lifespan not run)")
        return self._db


class PMSGraphQL(GraphQL):
    def __init__(self, schema: Any, state: AppState, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.state = state

    async def get_context(self, request: Any, response: Any) -> Any:
        from resolvers.loaders import Loaders  # resolvers depend on app, not the reverse
        from schema.context import Context

        db = self.state.db
        return Context(
            db=db,
            settings=self.state.settings,
            loaders=Loaders(db),
            request_id=request_id_var.get(),
            request=request,
        )


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Starlette:
    """Build the app. With ``database`` given (tests) the caller owns its lifecycle."""
    from schema import build_schema

    settings = settings or get_settings()
    state = AppState(settings, database)
    graphql = PMSGraphQL(
        build_schema(settings),
        state=state,
        graphql_ide="graphiql" if settings.is_dev else None,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        embedded: EmbeddedPostgres | None = None
        if database is None:
            url, embedded = await asyncio.to_thread(resolve_database_url, settings)
            state._db = Database.from_settings(settings, url)
        runner = TaskRunner(state.db, settings, registered_tasks(settings))
        if settings.run_background_tasks:
            runner.start()
        try:
            yield
        finally:
            await runner.stop()
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
        return JSONResponse({"status": "ok", "database": "ok", "migrations": sorted(current)})

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route(
                "/kyc/callbacks/{provider}",
                callback_endpoint(lambda: state.db, settings),
                methods=["POST"],
            ),
            WebSocketRoute("/graphql", graphql),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.pms = state
    return app
