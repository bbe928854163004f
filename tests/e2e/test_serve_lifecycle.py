"""`pms serve --migrate` (what `make run` runs) with the embedded PostgreSQL: it starts,
serves GraphQL, stops the database on Ctrl-C, and a second start reuses the data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.factories import registration

REGISTER = "mutation($i: RegisterPlayerInput!) { registerPlayer(input: $i) { __typename } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_running_on(pgdata: Path) -> bool:
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or []):
            return True
    return False


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
        env.update(PMS_DATA_DIR=str(data_dir), PMS_ENV="dev", PMS_ARGON2_MEMORY_COST_KIB="1024",
                   PMS_ARGON2_TIME_COST="1", PMS_ARGON2_PARALLELISM="1")  # fmt: skip
        cmd = [sys.executable, "-m", "pms", "serve", "--migrate", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stdout.read().decode()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not become ready")

    def gql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables})
        return response.json()

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)


@pytest.mark.timeout_sensitive
def test_serve_stops_embedded_database_on_ctrl_c_and_reuses_data(tmp_path):
    data_dir = tmp_path / "pms"
    pgdata = (data_dir / "pgdata").resolve()

    first = Server(data_dir)
    try:
        first.wait_ready()
        graphiql = httpx.get(f"{first.url}/graphql", headers={"accept": "text/html"})
        player = registration()
        body = first.gql(REGISTER, {"i": player})
    finally:
        code = first.interrupt()

    assert "graphiql" in graphiql.text.lower()
    assert body["data"]["registerPlayer"]["__typename"] == "RegisterPlayerSuccess"
    assert code == 0
    assert not postgres_running_on(pgdata)

    second = Server(data_dir)
    try:
        second.wait_ready()
        again = second.gql(REGISTER, {"i": player})  # the first run's player is still there
    finally:
        assert second.interrupt() == 0
    assert again["data"]["registerPlayer"]["__typename"] == "AlreadyExists"
    assert not postgres_running_on(pgdata)


@pytest.mark.timeout_sensitive
def test_serve_stops_embedded_database_on_sigterm(tmp_path):
    """SIGTERM (docker stop, Kubernetes) drains and stops the embedded PostgreSQL like
    Ctrl-C; the default handler would exit at once and orphan it."""
    data_dir = tmp_path / "pms"
    pgdata = (data_dir / "pgdata").resolve()
    server = Server(data_dir)
    try:
        server.wait_ready()
        assert postgres_running_on(pgdata)
        # A second command attaches to the running server and leaves it running: it says
        # nothing about stopping it (it does not), nor about XDG_RUNTIME_DIR.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
        env.update(PMS_DATA_DIR=str(data_dir), PMS_ENV="dev", PMS_LOG_LEVEL="INFO")
        attached = subprocess.run([sys.executable, "-m", "pms", "ledger", "verify"], env=env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
        assert attached.returncode == 0, attached.stderr
        assert "stopping embedded PostgreSQL" not in attached.stderr
        assert "XDG_RUNTIME_DIR" not in attached.stderr
        assert postgres_running_on(pgdata)
    finally:
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=30)
    output = server.proc.stdout.read().decode()
    assert code == 0, output
    assert "stopping embedded PostgreSQL" in output
    assert "XDG_RUNTIME_DIR" not in output
    assert not postgres_running_on(pgdata)
