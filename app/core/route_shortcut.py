"""One route's HTTP requests handed straight to it, past Starlette's exception middleware
and router (GET/POST ``/graphql``: nearly all the traffic; ~3 % of a money request's CPU
was those two layers and the route's dispatch, bench/README.md, branch gql3).

The scope gets what the router would have set (``router``, ``route`` for the HTTP
metrics' route template, ``endpoint``, ``path_params``). Skipping the exception
middleware changes nothing for this route: its app is an ASGI app (not a request-response
function that reads the middleware's handlers) that raises no Starlette
``HTTPException``, and any other exception goes on to the edge's error boundary as
before. Other methods (405 from the route) and every other path take the router."""

from __future__ import annotations

from collections.abc import Callable

from starlette._utils import get_route_path
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class RouteShortcut:
    def __init__(self, app: ASGIApp, route: Route, router: Callable[[], Router]) -> None:
        self.app = app
        self.route = route
        self.router = router
        self.methods = frozenset(route.methods or ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in self.methods
            and get_route_path(scope) == self.route.path
        ):
            scope.setdefault("router", self.router())
            scope["route"] = self.route
            scope["endpoint"] = self.route.endpoint
            scope["path_params"] = {}
            await self.route.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)
