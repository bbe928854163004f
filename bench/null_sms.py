"""An SMS gateway that sends nothing: the benchmark's server runs as in production
(`PMS_ENV=prod` refuses the `log` sender) and sends no SMS anyway."""

from __future__ import annotations

from typing import Any


class NullSmsSender:
    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def send(self, phone: str, body: str) -> None:
        return None
