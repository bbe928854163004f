"""The per-process sweep that closes subscription sockets whose token expired or whose
session ended (app/events/websocket.py SessionWatch): one check per distinct token per
sweep, however many sockets share it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.principal import Principal, PrincipalKind
from app.events.websocket import Caller, SessionWatch


class Socket:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def caller(token: str, valid: dict[str, bool], calls: list[str], expires_in: float = 60) -> Caller:
    async def still_valid() -> bool:
        calls.append(token)
        return valid[token]

    expires = datetime.now(UTC) + timedelta(seconds=expires_in)
    principal = Principal(PrincipalKind.PLAYER, id="p-1")
    return Caller(principal, expires, still_valid, None, token)


async def test_one_check_per_token_and_only_ended_sessions_close() -> None:
    valid = {"a": True, "b": False, "c": True}
    calls: list[str] = []
    watch = SessionWatch(interval=60, code=4401)
    sockets = {name: Socket() for name in ("a1", "a2", "a3", "b1", "c-expired")}
    for name, sock in sockets.items():
        expires_in = -1 if name == "c-expired" else 60
        watch.add(sock, caller(name[0], valid, calls, expires_in))

    await watch.sweep()

    assert sorted(calls) == ["a", "b"]  # three sockets of token a: one check
    assert sockets["b1"].closed == (4401, "Session ended")
    assert sockets["c-expired"].closed == (4401, "Token expired")
    assert [sockets[n].closed for n in ("a1", "a2", "a3")] == [None, None, None]
    assert len(watch) == 3  # the closed ones are no longer watched

    calls.clear()
    await watch.sweep()
    assert calls == ["a"]
    for sock in sockets.values():
        watch.discard(sock)
    assert len(watch) == 0
