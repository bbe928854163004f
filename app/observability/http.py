"""The ``/metrics`` endpoint. (HTTP requests are counted by the edge layer,
app/core/edge.py: by route template, ``/metrics`` itself not counted.) Access:
``metrics_access`` decides (see ``MetricsAccess``)."""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from app.core.edge import METRICS_PATH
from app.core.settings import Settings

__all__ = ["METRICS_PATH", "MetricsAccess", "metrics_endpoint", "serve_metrics_port"]


@dataclass(frozen=True)
class MetricsAccess:
    """Who may read ``/metrics`` on the API port.

    * ``metrics_token`` set: only ``Authorization: Bearer <token>`` (any environment).
    * no token, dev/test: open (a developer's machine).
    * no token, elsewhere: not exposed on the API port (404): scrape a separate port
      (``metrics_port``, served by ``pms serve``) or set a token.
    """

    token: str | None
    open_without_token: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsAccess:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        return cls(token or None, settings.env in ("dev", "test"))

    def allows(self, request: Request) -> bool | None:
        """True: serve; False: 401; None: pretend there is nothing here (404)."""
        if self.token is None:
            return True if self.open_without_token else None
        given = request.headers.get("authorization", "")
        scheme, _, credential = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            credential.encode(), self.token.encode()
        )
        return ok


def exposition() -> bytes:
    """Every metric in the text format; aggregated over processes in multi-process mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


def metrics_endpoint(access: MetricsAccess) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        allowed = access.allows(request)
        if allowed is None:
            return Response("Not Found", 404, media_type="text/plain")
        if not allowed:
            return Response("Unauthorized", 401, headers={"WWW-Authenticate": "Bearer"},
                            media_type="text/plain")  # fmt: skip
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return endpoint


def serve_metrics_port(port: int, host: str) -> None:
    """``/metrics`` on its own port (a daemon thread of ``pms serve``), for a scraper on a
    private network; the API port then has no ``/metrics``."""
    from prometheus_client import start_http_server

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(port, addr=host, registry=registry)
    else:
        start_http_server(port, addr=host)
