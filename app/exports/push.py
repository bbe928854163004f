"""Pushing a sealed bundle to the configured HTTP(S) endpoint: one POST per file (data
files, then the signature, then the manifest: its arrival means the bundle is complete),
each signed like a Standard Webhooks message and streamed from disk (a file is read once
to sign it and once to send it, never held in memory). A failed file is retried with
exponential backoff; the target must pass the webhook target check (globally routable
addresses only, unless ``export_push_allow_private``), resolved and pinned per attempt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.core import bundles
from app.core.settings import Settings
from app.events.signing import standard_signature_of_chunks
from app.events.webhook_targets import checked_target

CHUNK = 256 * 1024
BUNDLE_HEADER = "PMS-Export-Bundle"
FILE_HEADER = "PMS-Export-File"


@dataclass
class PushReport:
    state: str = "DELIVERED"  # DELIVERED | FAILED
    attempts: int = 0
    files: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "attempts": self.attempts, "files": self.files,
                "error": self.error}  # fmt: skip


def push_order(directory: Path) -> list[Path]:
    names = [e["name"] for e in bundles.read_manifest(directory)["files"]]
    return [directory / n for n in names] + [
        directory / bundles.SIGNATURE, directory / bundles.MANIFEST,
    ]  # fmt: skip


async def push_bundle(settings: Settings, directory: Path) -> PushReport:
    """Every file of the bundle delivered (2xx), or the first that failed every attempt."""
    assert settings.export_push_url is not None and settings.export_push_secret is not None
    report = PushReport()
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as client:
        for path in push_order(directory):
            error = await _push_file(client, settings, directory.name, path, report)
            if error is not None:
                report.state, report.error = "FAILED", f"{path.name}: {error}"
                return report
            report.files.append(path.name)
    return report


async def _push_file(
    client: httpx.AsyncClient, settings: Settings, bundle: str, path: Path, report: PushReport
) -> str | None:
    url, secret = settings.export_push_url or "", settings.export_push_secret or ""
    message_id = f"{bundle}/{path.name}"  # the same on every retry: receivers de-duplicate
    error: str | None = None
    for attempt in range(settings.export_push_max_attempts):
        if attempt:
            await asyncio.sleep(settings.export_push_backoff_seconds * 2 ** (attempt - 1))
        report.attempts += 1
        problem, target = await checked_target(url, settings.export_push_allow_private)
        if problem or target is None:
            return f"target refused: {problem}"  # not transient: no retry
        timestamp = int(time.time())
        signature, size = await asyncio.to_thread(_sign, secret, message_id, timestamp, path)
        headers = {
            "webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature, "content-type": "application/octet-stream",
            "content-length": str(size), BUNDLE_HEADER: bundle, FILE_HEADER: path.name,
            "Host": target.host_header,
        }  # fmt: skip
        try:
            response = await client.post(
                target.url, content=_stream(path), headers=headers,
                extensions={"sni_hostname": target.server_name},
            )  # fmt: skip
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
            continue
        if 200 <= response.status_code < 300:
            return None
        error = f"HTTP {response.status_code}"
    return error


def _sign(secret: str, message_id: str, timestamp: int, path: Path) -> tuple[str, int]:
    signature = standard_signature_of_chunks(secret, message_id, timestamp, _chunks(path))
    return signature, path.stat().st_size


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


async def _stream(path: Path) -> AsyncIterator[bytes]:
    for chunk in _chunks(path):
        yield chunk
