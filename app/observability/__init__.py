"""Observability: the ``/metrics`` endpoint and HTTP/GraphQL metrics, the ledger's metric
observer, database pool gauges, JSON logs and opt-in OpenTelemetry tracing. Wired by the
composition root (pms/asgi.py, pms/hooks.py); the metric families are in app/core/metrics.py.
"""
