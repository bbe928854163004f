"""OpenTelemetry tracing, only when ``PMS_OTEL_ENDPOINT`` is set: spans for GraphQL
(Strawberry's extension), asyncpg and httpx, exported over OTLP/HTTP. With the endpoint
unset this module imports nothing of OpenTelemetry (the [otel] extra need not even be
installed), so tracing costs nothing when off."""

from __future__ import annotations

import logging
from typing import Any

from app.core.settings import Settings
from app.observability import logs

log = logging.getLogger(__name__)

_enabled = False


def enabled() -> bool:
    return _enabled


def configure(settings: Settings, exporter: Any = None) -> bool:
    """Install the tracer provider and the instrumentations once per process. ``exporter``
    (tests: an in-memory one) replaces the OTLP exporter. Whether tracing is on."""
    global _enabled
    if _enabled:
        return True
    if settings.otel_endpoint is None and exporter is None:
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint))
        )
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    HTTPXClientInstrumentor().instrument()
    logs.set_trace_ids(_current_ids)
    _enabled = True
    log.info("OpenTelemetry tracing on (service %s)", settings.otel_service_name)
    return True


def _current_ids() -> tuple[str, str] | None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def asgi_middleware() -> list[Any]:
    """A server span per HTTP request/WebSocket (W3C ``traceparent`` honoured) when tracing
    is on, so every log line of the request carries its trace id; nothing otherwise."""
    if not _enabled:
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from starlette.middleware import Middleware

    return [Middleware(OpenTelemetryMiddleware, exclude_spans=["receive", "send"])]


def graphql_extensions() -> list[Any]:
    """Strawberry's OpenTelemetry extension when tracing is on; nothing otherwise."""
    if not _enabled:
        return []
    from strawberry.extensions.tracing import OpenTelemetryExtension

    return [OpenTelemetryExtension]
