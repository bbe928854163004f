"""Small builders of valid test data. Override only what a test is about."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.settings import Settings
from app.players import service
from app.players.models import Player
from app.players.validation import RegistrationData

_sequence = itertools.count(1)


def registration(**overrides: Any) -> dict[str, Any]:
    """GraphQL ``RegisterPlayerInput`` variables for a new, valid, unique player."""
    n = next(_sequence)
    data: dict[str, Any] = {
        "email": f"player{n}@example.com",
        "login": f"player{n}",
        "password": "correct horse battery staple",
        "country": "DE",
        "currency": "EUR",
        "birthDate": "1990-05-17",
        "locale": "de-DE",
    }
    data.update(overrides)
    return data


def registration_data(**overrides: Any) -> RegistrationData:
    raw = registration()
    raw["birth_date"] = date.fromisoformat(raw.pop("birthDate"))
    raw.update(overrides)
    return RegistrationData(**raw)


async def create_player(
    target: Database | AsyncSession, settings: Settings, **overrides: Any
) -> Player:
    """A registered player (with its wallets), committed when given a Database."""
    data = registration_data(**overrides)
    if isinstance(target, Database):
        async with target.transaction() as session:
            return await service.register_player(session, data, settings)
    return await service.register_player(target, data, settings)
