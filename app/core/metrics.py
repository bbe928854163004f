"""The service's Prometheus metrics, defined once (``prometheus-client``), so every layer
counts into the same families; app/observability/ exposes them at ``/metrics``.

Several worker processes: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory
before the processes start (prometheus-client reads it at import). Every process then
writes its samples there and ``/metrics`` aggregates them; gauges declare how
(``multiprocess_mode``: live processes summed, or the maximum).

Label values a client chooses (GraphQL operation names) are bounded by ``bounded_label``:
a scrape must not grow without limit because a caller invents names.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

# Latency buckets (seconds) for API calls and money operations: 1 ms .. 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "pms_http_requests", "HTTP requests by route template, method and status class.",
    ("route", "method", "status"),
)  # fmt: skip
HTTP_LATENCY = Histogram(
    "pms_http_request_duration_seconds", "HTTP request latency by route template.",
    ("route", "method"), buckets=LATENCY_BUCKETS,
)  # fmt: skip
GRAPHQL_OPERATIONS = Counter(
    "pms_graphql_operations", "GraphQL operations by name, type and outcome (ok/error).",
    ("operation", "type", "outcome"),
)  # fmt: skip
GRAPHQL_LATENCY = Histogram(
    "pms_graphql_operation_duration_seconds", "GraphQL operation latency by name and type.",
    ("operation", "type"), buckets=LATENCY_BUCKETS,
)  # fmt: skip
MUTATION_RESULTS = Counter(
    "pms_mutation_results",
    "Mutations by result: success or the typed error code (registration, KYC, ...).",
    ("mutation", "result"),
)
WALLET_OPERATIONS = Counter(
    "pms_wallet_operations",
    "Ledger operations by kind and outcome (OK, a stored business error, or an error code).",
    ("operation", "outcome"),
)
WALLET_LATENCY = Histogram(
    "pms_wallet_operation_duration_seconds", "Ledger operation latency (LOAD+plan+APPLY).",
    ("operation",), buckets=LATENCY_BUCKETS,
)  # fmt: skip
LEDGER_COALESCED = Histogram(
    "pms_ledger_coalesced_batch_size",
    "Single money operations per group commit (app/ledger/coalesce.py); 1: run alone.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
)  # fmt: skip
LEDGER_COALESCE_FALLBACKS = Counter(
    "pms_ledger_coalesce_fallbacks",
    "Group commits re-run one operation per transaction (fallback: the set-based path "
    "declined; error: the batch's transaction failed).",
    ("reason",),
)  # fmt: skip
IDEMPOTENT_REPLAYS = Counter(
    "pms_idempotent_replays", "Money operations answered from the stored idempotency record.",
    ("operation",),
)  # fmt: skip
ACTIVE_SUBSCRIPTIONS = Gauge(
    "pms_active_subscriptions", "Live event subscriptions (GraphQL subscriptions) held here.",
    multiprocess_mode="livesum",
)  # fmt: skip
DROPPED_SLOW_CONSUMERS = Counter(
    "pms_subscriptions_dropped_slow_consumers",
    "Subscribers disconnected because their queue overflowed.",
)
SUBSCRIPTION_PAYLOADS = Counter(
    "pms_subscription_payloads",
    "Subscription payloads per event and subscriber: executed (and encoded) here, or shared "
    "with an identical subscription (same event, document, variables, projection class).",
    ("outcome",),
)  # fmt: skip
OUTBOX_RELAYED = Counter(
    "pms_outbox_relayed_events", "Outbox events handed to the sinks (bus, webhooks, hub).",
    ("type",),
)  # fmt: skip
OUTBOX_RELAY_FAILURES = Counter("pms_outbox_relay_failures", "Outbox relay passes that failed.")
OUTBOX_LAG = Gauge(
    "pms_outbox_lag_seconds",
    "Age of the oldest event in the relay's last delivered batch (commit -> relay).",
    multiprocess_mode="max",
)
OUTBOX_LAG_HISTOGRAM = Histogram(
    "pms_outbox_event_lag_seconds", "Per event: outbox insert -> handed to the sinks.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)  # fmt: skip
WEBHOOK_DELIVERIES = Counter(
    "pms_webhook_deliveries", "Webhook delivery attempts by outcome (succeeded/retry/dead).",
    ("outcome",),
)  # fmt: skip
WEBHOOK_LATENCY = Histogram(
    "pms_webhook_delivery_duration_seconds", "Webhook POST latency.", buckets=LATENCY_BUCKETS
)
DB_POOL_CHECKED_OUT = Gauge(
    "pms_db_pool_checked_out", "Database connections in use.", multiprocess_mode="livesum"
)
DB_POOL_OPEN = Gauge(
    "pms_db_pool_connections", "Database connections open (in use or idle).",
    multiprocess_mode="livesum",
)  # fmt: skip
DB_POOL_CAPACITY = Gauge(
    "pms_db_pool_capacity", "Pool size + overflow: connections the pool may open.",
    multiprocess_mode="livesum",
)  # fmt: skip

REPLICA_LAG = Gauge(
    "pms_replica_lag_seconds",
    "Replay lag of each read replica at its last health check (0: caught up with the primary).",
    ("replica",), multiprocess_mode="max",
)  # fmt: skip
REPLICA_LAGGING = Gauge(
    "pms_replica_lagging",
    "1 while a read replica is out of rotation for lagging past PMS_REPLICA_MAX_LAG_SECONDS.",
    ("replica",), multiprocess_mode="max",
)  # fmt: skip

OUTBOX_OLDEST_PENDING = Gauge(
    "pms_outbox_oldest_pending_seconds",
    "Age of the oldest undelivered outbox event, measured by the alerts task in every replica "
    "(grows while the relay is stuck; pms_outbox_lag_seconds only moves when it delivers).",
    multiprocess_mode="mostrecent",
)
ALERTS_OPEN = Gauge(
    "pms_alerts_firing", "Open alerts (firing or acknowledged, not resolved) by rule kind.",
    ("kind",), multiprocess_mode="mostrecent",
)  # fmt: skip
ALERTS_FIRED = Counter("pms_alerts_fired", "Alerts fired (committed) by rule kind.", ("kind",))

_MAX_CHILDREN = 10_000
_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, kept per label tuple: prometheus-client validates the
    values, builds a tuple and takes a lock on every ``labels()`` call, seven times per
    money request. Label values are bounded already (route templates, ``bounded_label``,
    error codes); the cap only guards against a mistake."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        if len(_children) >= _MAX_CHILDREN:
            _children.clear()
        found = _children[key] = metric.labels(*labels)
    return found


OTHER = "other"
# GraphQL names ([A-Za-z0-9_]) and dotted event types (player.registered).
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")
_MAX_NAMES = 200
_seen: set[str] = set()
_seen_lock = threading.Lock()


def bounded_label(value: str | None, *, empty: str = "anonymous") -> str:
    """``value`` when it is a plain name among the first ``_MAX_NAMES`` seen, else
    ``other``: a client cannot blow up the label space."""
    if not value:
        return empty
    if not _LABEL.match(value):
        return OTHER
    if value in _seen:
        return value
    with _seen_lock:
        if len(_seen) >= _MAX_NAMES:
            return OTHER
        _seen.add(value)
    return value


KYC_STATUS_CHANGES = Counter(
    "pms_kyc_status_changes",
    "KYC case status changes (committed) by action and new status: submitted, decided, ...",
    ("action", "status"),
)


def inc_after_commit(session: AsyncSession, child: Any) -> None:
    """Increment ``child`` (a labelled counter) only if ``session``'s transaction commits:
    a rolled-back change is not counted."""
    event.listen(session.sync_session, "after_commit", lambda _: child.inc(), once=True)
