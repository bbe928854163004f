"""Sign-ins and money calls as fraud telemetry: an outbox event per sign-in (failed or not)
and per money call that carries a device fingerprint or an IP address. Only SHA-256
hashes of the device and IP leave here (events reach webhooks and the bus). Written in a
transaction of its own after the caller's, so the money path's statements and locks stay
as they were."""

from __future__ import annotations

import uuid

from app.core.db import Database
from app.events import outbox
from app.fraud.consumer import DEVICE_SEEN, LOGIN_FAILED, LOGIN_SUCCEEDED
from app.fraud.signals import identifier_hash
from app.gdpr.guard import is_erased

DEVICE_MAX = 256


def _data(player_id: str, ip: str | None, device: str | None) -> dict[str, str | None]:
    return {
        "playerId": player_id,
        "ipHash": identifier_hash("ip", ip) if ip else None,
        "deviceHash": identifier_hash("device", device[:DEVICE_MAX]) if device else None,
    }


def _player(raw: str | None) -> str | None:
    try:
        return str(uuid.UUID(str(raw))) if raw else None
    except ValueError:
        return None


async def record_login(
    db: Database, player_id: str | None, ok: bool, ip: str | None, device: str | None
) -> None:
    """A player's sign-in attempt on a known account (unknown accounts have no one to
    score)."""
    pid = _player(player_id)
    if pid is None:
        return
    kind = LOGIN_SUCCEEDED if ok else LOGIN_FAILED
    await _record(db, kind, pid, _data(pid, ip, device))


async def record_device(
    db: Database, player_id: str, operation: str, ip: str | None, device: str | None
) -> None:
    pid = _player(player_id)
    if pid is None or not (device or ip):
        return
    await _record(db, DEVICE_SEEN, pid, {**_data(pid, ip, device), "operation": operation})


async def _record(db: Database, kind: str, pid: str, data: dict[str, str | None]) -> None:
    """The event, unless the player was erased (also by an erasure that committed while
    the money call or sign-in ran: its hashes would outlive the erasure)."""
    async with db.transaction() as session:
        if not await is_erased(session, uuid.UUID(pid)):
            await outbox.record(session, kind, pid, data)
