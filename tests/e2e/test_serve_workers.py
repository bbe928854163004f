"""`pms serve --workers N`: N processes on one port under our supervisor (pms/server.py),
a dead worker replaced, /metrics summed over every process (prometheus-client
multi-process mode), SIGTERM stopping every worker gracefully, and no worker outliving a
killed supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from app.core.settings import Settings
from tests.e2e.processes import ROOT, PmsServe

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


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout_sensitive
async def test_workers_exit_when_the_supervisor_is_killed(db: object, settings: Settings) -> None:
    server = PmsServe(settings, "--workers", "2", PMS_RUN_BACKGROUND_TASKS="false")
    try:
        await server.ready()
        await server.started(2)
        workers = server.workers()
        assert len(workers) == 2

        server.proc.kill()  # SIGKILL: the supervisor cannot tell anyone
        server.proc.wait()
        for _ in range(75):  # 15 s: a graceful drain, PMS_SHUTDOWN_TIMEOUT_SECONDS=5
            if not any(map(_alive, workers)):
                break
            await asyncio.sleep(0.2)

        assert not any(map(_alive, workers)), server.output()
        assert not _listening(server.port)
    finally:
        for pid in workers if "workers" in locals() else []:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()  # without the fix they would serve on
        server.stop()


# A worker stand-in without prctl, and a parent to kill; the child shares the parent's
# stdout, so the test reads the child's pid and then its "watching".
ORPHAN = """
import signal, sys
from pms import server
server._set_parent_death_signal = lambda: False
server._die_with_parent(int(sys.argv[1]))
print("watching", flush=True)
signal.pause()
"""
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
print(child.pid, flush=True)
time.sleep(120)
"""


def test_the_parent_pid_watch_alone_stops_an_orphaned_worker() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, ORPHAN], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert parent.stdout.readline() == "watching\n"

        parent.kill()
        parent.wait()
        for _ in range(50):  # the watch looks once a second
            if not _alive(child):
                break
            time.sleep(0.1)

        assert not _alive(child)
    finally:
        with contextlib.suppress(psutil.Error):
            psutil.Process(child).kill()
        parent.stdout.close()


def test_a_second_supervisor_refuses_a_port_another_serve_listens_on() -> None:
    # Workers listen with SO_REUSEPORT; a second `pms serve --workers` must not bind
    # beside them (it would take half of their connections) but fail as a port in use.
    from pms.server import listen_shared, reserve_port

    held = reserve_port("127.0.0.1", 0)
    port = held.getsockname()[1]
    worker = listen_shared("127.0.0.1", port)
    try:
        with pytest.raises(OSError) as refused:
            reserve_port("127.0.0.1", port)
        assert refused.value.errno == errno.EADDRINUSE
        # The reservation itself still lets this supervisor's own workers listen.
        second_worker = listen_shared("127.0.0.1", port)
        second_worker.close()
    finally:
        worker.close()
        held.close()
