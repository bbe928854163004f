"""JSON logs (``PMS_LOG_FORMAT=json``) with the request id and, when tracing is on, the
trace id; OpenTelemetry off = not one opentelemetry module imported; on = spans for the
GraphQL operation and its asyncpg statements (in-memory exporter, in a child process so
the global tracer provider and the instrumentation do not leak into other tests)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap

from app.core.logging import RequestIdFilter
from app.observability.logs import JsonFormatter, log_formatter

BAD_QUERY = {"query": "query ObsLog { noSuchField }"}


async def test_json_log_lines_parse_and_carry_the_request_id(client, settings):
    formatter = log_formatter(settings.model_copy(update={"log_format": "json"}))
    assert isinstance(formatter, JsonFormatter)
    assert log_formatter(settings) is None  # the default stays the text format
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger("pms.graphql")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        response = await client.post("/graphql", json=BAD_QUERY,
                                     headers={"x-request-id": "obs-req-42"})  # fmt: skip
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert response.headers["x-request-id"] == "obs-req-42"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "the refused query logs a line"
    entry = lines[-1]
    assert entry["request_id"] == "obs-req-42"
    assert (entry["level"], entry["logger"]) == ("INFO", "pms.graphql")
    assert "noSuchField" in entry["message"]
    assert "trace_id" not in entry  # tracing is off
    assert entry["timestamp"].endswith("+00:00")


def test_json_formatter_keeps_extras_and_exceptions():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    record.player_id = "p-1"
    try:
        raise ValueError("bad")
    except ValueError:
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "boom now"
    assert entry["player_id"] == "p-1"
    assert "ValueError: bad" in entry["exception"]


def _run(script: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# As if the [otel] extra were not installed: every opentelemetry import fails, and who
# asked is recorded. (redis-py probes for the OTel SDK at import and copes with its absence;
# none of our own modules may ask.)
TRACING_OFF = """
    import asyncio, json, sys, traceback
    asked = []

    class NoOpenTelemetry:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] != "opentelemetry":
                return None
            frames = [f.filename for f in traceback.extract_stack()]
            callers = [f for f in frames if not f.startswith("<")]
            asked.append(callers[-1] if callers else "?")
            raise ModuleNotFoundError(f"No module named {name!r}")

    sys.meta_path.insert(0, NoOpenTelemetry())
    import httpx
    from app.core.db import Database
    from app.core.settings import Settings
    from pms.asgi import create_app

    async def main():
        settings = Settings(_env_file=None, env="test", database_url=sys.argv[1],
                            run_background_tasks=False)
        db = Database(sys.argv[1])
        app = create_app(settings, database=db)
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                r = await http.post("/graphql", json={"query": "{ __typename }"})
                assert r.json() == {"data": {"__typename": "Query"}}, r.text
                r = await http.get("/readyz")
        await db.dispose()
        loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
        print(json.dumps({"status": r.status_code, "otel": loaded, "asked": asked}))

    asyncio.run(main())
"""


def test_tracing_off_imports_nothing_of_opentelemetry(database_url):
    result = _run(TRACING_OFF, database_url)
    assert (result["status"], result["otel"]) == (200, [])
    ours = [f for f in result["asked"] if "site-packages" not in f]
    assert ours == [], ours


TRACING_ON = """
    import asyncio, io, json, logging, sys
    import httpx
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from app.core.db import Database
    from app.core.logging import RequestIdFilter
    from app.core.settings import Settings
    from app.observability import tracing
    from app.observability.logs import JsonFormatter
    from pms.asgi import create_app

    async def main():
        settings = Settings(_env_file=None, env="test", database_url=sys.argv[1],
                            run_background_tasks=False)
        exporter = InMemorySpanExporter()
        assert tracing.configure(settings, exporter=exporter)
        db = Database(sys.argv[1])
        app = create_app(settings, database=db)
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(JsonFormatter())
        logging.getLogger("pms.graphql").addHandler(handler)
        logging.getLogger("pms.graphql").setLevel(logging.INFO)
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                q = "query ObsTraced { players(first: 1) { edges { node { id } } } }"
                await http.post("/graphql", json={"query": q})
                await http.post("/graphql", json={"query": "query ObsBad { nope }"})
        await db.dispose()
        spans = exporter.get_finished_spans()
        logs = [json.loads(line) for line in stream.getvalue().splitlines()]
        print(json.dumps({
            "names": sorted({s.name for s in spans}),
            "systems": sorted({str(s.attributes.get("db.system", "")) for s in spans}),
            "trace_ids": sorted({format(s.context.trace_id, "032x") for s in spans}),
            "log_trace_ids": [entry.get("trace_id") for entry in logs],
        }))

    asyncio.run(main())
"""


def test_tracing_on_exports_graphql_and_asyncpg_spans_and_logs_carry_the_trace_id(
    database_url,
):
    result = _run(TRACING_ON, database_url)
    assert "GraphQL Query: ObsTraced" in result["names"] or any(
        "ObsTraced" in n for n in result["names"]
    ), result["names"]
    assert "postgresql" in result["systems"], result
    assert result["log_trace_ids"], "the refused query logged a line"
    assert all(tid and tid in result["trace_ids"] for tid in result["log_trace_ids"]), result
