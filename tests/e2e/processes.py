"""`pms serve` as a real process against the test database, for the multi-process tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import httpx
import psutil

from app.core.settings import Settings
from tests.realtime.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 120  # a start-up on a loaded 2-core machine takes 15-60 s


class PmsServe:
    """One ``pms serve`` (maybe with ``--workers``); its log goes to a file, not a pipe
    nobody reads (a full pipe would stall the server)."""

    def __init__(self, settings: Settings, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
        environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        environ.update(PMS_ENV="test", PMS_DATABASE_URL=settings.database_url or "",
                       PMS_SHUTDOWN_TIMEOUT_SECONDS="5", PMS_ARGON2_TIME_COST="1",
                       PMS_ARGON2_MEMORY_COST_KIB="1024", PMS_ARGON2_PARALLELISM="1")  # fmt: skip
        environ.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pms", "serve", "--port", str(self.port), *args],
            cwd=ROOT, env=environ, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    async def ready(self) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(int(WAIT_SECONDS * 5)):
                assert self.proc.poll() is None, self.output()
                try:
                    if (await http.get(self.url + "/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"pms serve did not become ready:\n{self.output()}")

    async def started(self, apps: int) -> None:
        """Wait until ``apps`` app startups (workers, replacements) are in the log."""
        for _ in range(int(WAIT_SECONDS * 5)):
            if self.output().count("Application startup complete") >= apps:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"not {apps} app startups:\n{self.output()}")

    def workers(self) -> list[int]:
        """The live worker processes of ``--workers`` (not the resource tracker)."""
        pids = []
        for child in psutil.Process(self.proc.pid).children():
            with contextlib.suppress(psutil.Error):  # gone, or a zombie not yet reaped
                if "spawn_main" in " ".join(child.cmdline()):
                    pids.append(child.pid)
        return pids

    def stop(self) -> None:
        """Kill it if it still runs, with its workers (they would outlive a killed parent)."""
        if self.proc.poll() is None:
            children = psutil.Process(self.proc.pid).children(recursive=True)
            self.proc.kill()
            self.proc.wait()
            for child in children:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
        self.log.close()
