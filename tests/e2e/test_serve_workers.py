"""`pms serve --workers N`: N processes on one port under our supervisor (pms/server.py),
a dead worker replaced, /metrics summed over every process (prometheus-client
multi-process mode), and SIGTERM stopping every worker gracefully."""

from __future__ import annotations

import asyncio
import os
import re
import signal

import httpx
import psutil
import pytest

from app.core.settings import Settings
from tests.e2e.processes import PmsServe

TYPENAME = {"query": "{ __typename }"}


def graphql_requests(metrics: str) -> float:
    pattern = r'^pms_http_requests_total\{method="POST",route="/graphql",status="2xx"\} (\S+)$'
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def _typename(http: httpx.AsyncClient, url: str, n: int) -> None:
    # A new connection each time: the kernel hands them to whichever worker accepts.
    for _ in range(n):
        response = await http.post(url + "/graphql", json=TYPENAME, headers={"connection": "close"})
        assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.timeout_sensitive
async def test_workers_share_the_port_restart_and_stop_gracefully(
    db: object, settings: Settings
) -> None:
    server = PmsServe(settings, "--workers", "2", PMS_RUN_BACKGROUND_TASKS="false")
    try:
        await server.ready()
        await server.started(2)  # ready means one worker answers; the test kills either
        first = server.workers()
        assert len(first) == 2
        async with httpx.AsyncClient() as http:
            await _typename(http, server.url, 20)
            os.kill(first[0], signal.SIGKILL)
            for _ in range(100):
                now = server.workers()
                if len(now) == 2 and first[0] not in now:
                    break
                await asyncio.sleep(0.2)
            assert first[1] in now and first[0] not in now and len(now) == 2
            await server.started(3)  # the two first workers and the replacement
            await _typename(http, server.url, 10)
            metrics = (await http.get(server.url + "/metrics")).text
        # Every answered request is counted once, the dead worker's included.
        assert graphql_requests(metrics) == 30

        server.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.proc.wait, 30)
        assert code == 0, server.output()
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                       for p in now)  # fmt: skip
        assert server.output().count("Application shutdown complete") >= 2
    finally:
        server.stop()
