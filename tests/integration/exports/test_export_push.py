"""The optional push of each bundle to an HTTP(S) endpoint, against a real local HTTP
server: every file POSTed (manifest last), signed like Standard Webhooks, retried with
backoff; a loopback target is refused unless the test setting allows it."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.core import bundles, jobs
from app.core.db import Database
from app.events.signing import standard_signature
from app.exports import jobs as export_jobs
from app.exports.cursor import ExportKind
from pms.tasks import run_jobs
from tests.integration.exports.helpers import deposit, player_with_consents

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


class Receiver(ThreadingHTTPServer):
    def __init__(self, fail_first: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first = fail_first
        self.received: list[tuple[int, dict[str, str], bytes]] = []


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        failing = len(self.server.received) < self.server.fail_first
        status = 503 if failing else 204
        self.server.received.append((status, {k.lower(): v for k, v in self.headers.items()},
                                     body))  # fmt: skip
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _serve(fail_first: int) -> Iterator[Receiver]:
    server = Receiver(fail_first)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve(fail_first=1)


@pytest.fixture
def down() -> Iterator[Receiver]:
    yield from _serve(fail_first=10**6)


def _settings(settings, tmp_path, server: Receiver, *, allow: bool = True):
    return settings.model_copy(update={
        "export_dir": str(tmp_path / "exports"),
        "export_push_url": f"http://127.0.0.1:{server.server_address[1]}/bundles",
        "export_push_secret": SECRET, "export_push_allow_private": allow,
        "export_push_backoff_seconds": 0.01, "export_push_max_attempts": 3,
    })  # fmt: skip


async def _export(db: Database, settings) -> dict:
    player = await player_with_consents(db, settings, email=True)
    await deposit(db, settings, player, "12.50", "EUR")
    async with db.transaction() as s:
        job = await export_jobs.start(s, ExportKind.ERP, None, "test")
    assert await run_jobs(db, settings) == 1
    async with db.transaction() as s:
        done = await jobs.get(s, job.id)
    assert done is not None and done.state == "DONE", done
    assert done.result is not None
    return done.result


def _files(manifest: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in manifest.parent.iterdir()}


async def test_every_file_is_pushed_signed_and_a_failure_is_retried(
    db: Database, settings, tmp_path, receiver
):
    pushing = _settings(settings, tmp_path, receiver)
    result = await _export(db, pushing)
    push = result["push"]
    names = [e["name"] for e in bundles.read_manifest(Path(result["manifestPath"]).parent)["files"]]
    assert push["state"] == "DELIVERED" and push["error"] is None
    assert push["files"] == [*names, bundles.SIGNATURE, bundles.MANIFEST]  # manifest last
    assert push["attempts"] == len(push["files"]) + 1  # the first POST got a 503
    on_disk = _files(Path(result["manifestPath"]))
    delivered = [r for r in receiver.received if r[0] == 204]
    assert [h["pms-export-file"] for _, h, _ in delivered] == push["files"]
    for _, headers, body in delivered:
        name = headers["pms-export-file"]
        assert body == on_disk[name]
        assert headers["webhook-id"] == f"{Path(result['manifestPath']).parent.name}/{name}"
        expected = standard_signature(SECRET, headers["webhook-id"], int(
            headers["webhook-timestamp"]), body)  # fmt: skip
        assert headers["webhook-signature"] == expected
    retried, first_ok = receiver.received[0][1], delivered[0][1]
    assert retried["webhook-id"] == first_ok["webhook-id"]  # receivers de-duplicate on it


async def test_a_loopback_target_is_refused_without_the_test_setting(
    db: Database, settings, tmp_path, receiver
):
    refused = _settings(settings, tmp_path, receiver, allow=False)
    push = (await _export(db, refused))["push"]
    assert push["state"] == "FAILED" and "target refused" in push["error"]
    assert "globally routable" in push["error"] and push["files"] == []
    assert receiver.received == []


async def test_an_endpoint_that_keeps_failing_gives_up_after_the_attempts(
    db: Database, settings, tmp_path, down
):
    push = (await _export(db, _settings(settings, tmp_path, down)))["push"]
    assert push["state"] == "FAILED" and push["error"].endswith("HTTP 503")
    assert push["attempts"] == 3 and len(down.received) == 3 and push["files"] == []
