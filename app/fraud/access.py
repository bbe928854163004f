"""Sign-ins and money calls as fraud telemetry: an outbox event per sign-in (failed or not)
and per money call that carries a device fingerprint or an IP address. Only SHA-256
hashes of the device and IP leave here (events reach webhooks and the bus). Written in a
transaction of its own after the caller's, so the money path's statements and locks stay
as they were."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class DeviceSeen:
    """A money call that carried the player's device fingerprint or IP address."""

    player_id: str
    operation: str
    ip: str | None
    device: str | None


async def record_devices(db: Database, seen: Sequence[DeviceSeen]) -> None:
    """One event per call, all in one transaction (a batch's items together)."""
    by_player: dict[str, list[dict[str, str | None]]] = {}
    for s in seen:
        pid = _player(s.player_id)
        if pid is not None and (s.device or s.ip):
            data = {**_data(pid, s.ip, s.device), "operation": s.operation}
            by_player.setdefault(pid, []).append(data)
    if not by_player:
        return
    async with db.transaction() as session:
        for pid in sorted(by_player):  # the player row locks in one order
            if not await is_erased(session, uuid.UUID(pid)):
                for data in by_player[pid]:
                    await outbox.record(session, DEVICE_SEEN, pid, data)


async def _record(db: Database, kind: str, pid: str, data: dict[str, str | None]) -> None:
    """The event, unless the player was erased (also by an erasure that committed while
    the money call or sign-in ran: its hashes would outlive the erasure)."""
    async with db.transaction() as session:
        if not await is_erased(session, uuid.UUID(pid)):
            await outbox.record(session, kind, pid, data)
