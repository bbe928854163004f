"""uvicorn's server with the PMS shutdown order (issue 17 item 3): close the app's
WebSockets with 1001 (going away), then uvicorn drains HTTP requests for up to
``shutdown_timeout_seconds`` and runs the lifespan shutdown (which flushes the relay).

``pms serve --workers N`` runs N such servers in N processes on one port, under
``Supervisor``: ours rather than uvicorn's ``Multiprocess``, whose workers are
plain ``uvicorn.Server`` objects (no 1001 close, no way to pass our subclass) and which
needs the app as an import string. Ours starts each worker with the already-resolved
settings (database URL included), restarts a worker that dies, and on SIGTERM/SIGINT
sends each worker SIGTERM, so every worker runs the shutdown order above. A worker
whose supervisor dies without that (SIGKILL, OOM killer) stops the same way: it asks the
kernel for SIGTERM on its parent's death and watches its parent pid as well.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from contextlib import suppress
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

import uvicorn

from app.core.settings import Settings

log = logging.getLogger("pms")

STARTUP_FAILURE = 3  # a worker's exit code when its app never started (as uvicorn's)
# Seconds past the drain timeout the supervisor waits before it kills a worker.
KILL_GRACE_SECONDS = 10.0


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app_state: Any) -> None:
        super().__init__(config)
        self.app_state = app_state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn alone would fail open WebSockets with 1012 after stopping the listener.
        closed = await self.app_state.close_websockets()
        if closed:
            log.info("shutdown: closed %d WebSocket(s) with 1001", closed)
        await super().shutdown(sockets)


def server_config(app: Any, settings: Settings, host: str, port: int) -> uvicorn.Config:
    # uvicorn handles Ctrl-C and SIGTERM: it drains requests (up to the shutdown timeout)
    # and runs the lifespan shutdown.
    drain = int(settings.shutdown_timeout_seconds)
    return uvicorn.Config(app, host=host, port=port, log_config=None, proxy_headers=True,
                          server_header=False, timeout_graceful_shutdown=drain,
                          ws_per_message_deflate=settings.ws_per_message_deflate,
                          ws_ping_interval=settings.ws_ping_interval_seconds,
                          ws_ping_timeout=settings.ws_ping_timeout_seconds)  # fmt: skip


def serve(settings: Settings, host: str, port: int, sockets: list[socket.socket] | None) -> bool:
    """Run one server until it is told to stop; False if the app never started."""
    from pms.asgi import create_app

    app = create_app(settings)
    server = GracefulServer(server_config(app, settings, host, port), app.state.pms)
    # uvicorn re-raises Ctrl-C after its graceful shutdown (uvicorn.run swallows it).
    with suppress(KeyboardInterrupt):
        server.run(sockets)
    return server.started


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_WATCH_SECONDS = 1.0


def _set_parent_death_signal() -> bool:
    """Linux: the kernel sends us SIGTERM when the supervisor dies. False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    """SIGTERM ourselves (the graceful shutdown) once ``parent`` is no longer our parent."""
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH_SECONDS)
    log.warning("supervisor %s is gone; stopping worker %s", parent, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)


def _die_with_parent(parent: int) -> None:
    """Never outlive the supervisor: an orphan would go on serving the port unsupervised.
    The pid watch is the portable fallback; it also covers a parent that died before
    prctl was called (we are re-parented already, so it fires at once)."""
    if not _set_parent_death_signal() or os.getppid() != parent:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                         name="pms-parent-watch").start()  # fmt: skip


BACKLOG = 2048  # uvicorn's default


def _bound(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT (and SO_REUSEADDR, as uvicorn binds); an IPv6
    host keeps the system's dual-stack default, as uvicorn's socket had."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """The supervisor's socket: bound, never listening (it takes no connection), so the
    port is ours (port 0: chosen) and a port in use fails before any worker starts.

    First a bind without SO_REUSEPORT: it fails while anything listens on the port, an
    earlier ``pms serve --workers`` included, whose reuse-port sockets would otherwise
    let this one bind beside it and silently take half its connections."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    return _bound(host, port)


def listen_shared(host: str, port: int) -> socket.socket:
    """A worker's own listening socket on the port. With SO_REUSEPORT the kernel hashes
    each new connection to one of the workers' sockets, evenly; one socket shared by the
    workers goes to whichever accepts first (10,000 WebSockets over two workers: 5,490
    and 4,510, bench/README.md "subs5"), and a subscription's fan-out takes as long as
    its busiest worker's."""
    sock = _bound(host, port)
    sock.listen(BACKLOG)
    return sock


def _worker(settings: Settings, host: str, port: int, parent: int) -> None:
    """A worker process (spawned: nothing of the parent's state but its arguments)."""
    _die_with_parent(parent)
    from app.core.logging import configure_logging
    from pms.cli import quiet_library_loggers

    configure_logging(settings.log_level)
    quiet_library_loggers()
    started = serve(settings, host, port, [listen_shared(host, port)])
    _mark_metrics_dead(os.getpid())
    if not started:
        sys.exit(STARTUP_FAILURE)


def _mark_metrics_dead(pid: int | None) -> None:
    """Drop a finished process's live gauges from the multi-process metrics."""
    if pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Supervisor:
    """N worker processes, each listening on the port (the kernel spreads connections)."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.workers = workers
        self._stop = threading.Event()
        self._spawn = multiprocessing.get_context("spawn")

    def run(self) -> int:
        sock = reserve_port(self.host, self.port)
        self.port = sock.getsockname()[1]
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        processes = [self._start() for _ in range(self.workers)]
        failed = False
        while not self._stop.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                process.join()
                _mark_metrics_dead(process.pid)
                if process.exitcode == STARTUP_FAILURE:
                    log.error("worker %s failed to start; stopping", process.pid)
                    failed = True
                    self._stop.set()
                    break
                log.warning("worker %s exited (%s); starting another", process.pid,
                            process.exitcode)  # fmt: skip
                processes[i] = self._start()
        self._stop_all(processes)
        sock.close()
        return 1 if failed else 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop.set()

    def _start(self) -> SpawnProcess:
        process = self._spawn.Process(
            target=_worker,
            args=(self.settings, self.host, self.port, os.getpid()),
            name="pms-worker",
        )
        process.start()
        log.info("started worker %s", process.pid)
        return process

    def _stop_all(self, processes: list[SpawnProcess]) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout_seconds + KILL_GRACE_SECONDS
        for process in processes:
            process.join(max(deadline - time.monotonic(), 0))
            if process.is_alive():
                log.warning("worker %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
            _mark_metrics_dead(process.pid)
