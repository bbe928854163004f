"""Inputs of the players domain."""

from __future__ import annotations

from datetime import date

import strawberry

from app.players.repository import PlayerFilter as PlayerFilterData
from app.players.validation import RegistrationData
from schema.enums import PlayerStatusEnum
from schema.input_guard import free_text


@strawberry.input
class RegisterPlayerInput:
    email: str = free_text()
    login: str = free_text()
    password: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. DE")
    currency: str = strawberry.field(description="ISO 4217, one of the supported currencies")
    birth_date: date
    locale: str = "en"
    traffic_source: str | None = free_text(default=None)
    affiliate_code: str | None = free_text(default=None)

    def to_data(self) -> RegistrationData:
        return RegistrationData(
            email=self.email,
            login=self.login,
            password=self.password,
            country=self.country,
            currency=self.currency,
            birth_date=self.birth_date,
            locale=self.locale,
            traffic_source=self.traffic_source,
            affiliate_code=self.affiliate_code,
        )


@strawberry.input
class PlayerFilter:
    country: str | None = None
    status: PlayerStatusEnum | None = None
    search: str | None = strawberry.field(
        default=None,
        description="Part of the login, or the id; part of the email too for callers who "
        "may read emails in full (player:read_pii).",
    )

    def to_data(self, search_in: frozenset[str] = frozenset({"id", "login"})) -> PlayerFilterData:
        search = (self.search or "").strip()[:254] or None
        return PlayerFilterData(
            country=self.country, status=self.status.value if self.status else None,
            search=search, search_in=search_in,
        )  # fmt: skip
