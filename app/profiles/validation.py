"""Profile and preference rules, and the masking of personal values."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from app.core import phones
from app.core.errors import FieldProblem
from app.core.phones import is_phone_number
from app.core.settings import Settings
from app.kyc.validation import is_country
from app.players.validation import LOCALE, MAX_AGE_YEARS, age_on

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
NAME = re.compile(r"^[^\x00-\x1f<>{}\[\]|\\^~`\"@#$%&*=+;:?!0-9]{1,100}$")
POSTAL = re.compile(r"^[A-Za-z0-9 -]{2,16}$")
UNSET: Any = object()

# GraphQL field name -> (column, max length, pattern).
PROFILE_FIELDS: dict[str, tuple[str, int, re.Pattern[str] | None]] = {
    "firstName": ("first_name", 100, NAME),
    "lastName": ("last_name", 100, NAME),
    "phone": ("phone", 16, E164),
    "addressLine1": ("address_line1", 200, None),
    "addressLine2": ("address_line2", 200, None),
    "city": ("city", 100, NAME),
    "postalCode": ("postal_code", 16, POSTAL),
    "addressCountry": ("address_country", 2, None),
}


@dataclass(frozen=True)
class ProfileUpdate:
    """A partial update: fields left UNSET do not change; None clears a field."""

    firstName: str | None = UNSET
    lastName: str | None = UNSET
    phone: str | None = UNSET
    addressLine1: str | None = UNSET
    addressLine2: str | None = UNSET
    city: str | None = UNSET
    postalCode: str | None = UNSET
    addressCountry: str | None = UNSET
    birthDate: date | None = UNSET

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)
                is not UNSET}  # fmt: skip


def profile_problems(
    update: ProfileUpdate, country: str, settings: Settings, today: date
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for name, value in update.given().items():
        if name == "birthDate":
            if value is None:
                problems.append(FieldProblem(name, "cannot be cleared"))
            elif value > today:
                problems.append(FieldProblem(name, "is in the future"))
            elif age_on(value, today) > MAX_AGE_YEARS:
                problems.append(FieldProblem(name, "is not plausible"))
            elif age_on(value, today) < settings.min_age_for(country):
                problems.append(
                    FieldProblem(name, f"must be at least {settings.min_age_for(country)}")
                )
            continue
        if value is None:
            continue
        _, max_len, pattern = PROFILE_FIELDS[name]
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            problems.append(FieldProblem(name, f"1-{max_len} characters"))
        elif name == "phone" and not (E164.match(value) and is_phone_number(value)):
            problems.append(FieldProblem(name, phones.MESSAGE))
        elif name == "addressCountry" and not is_country(value):
            problems.append(FieldProblem(name, "must be an ISO 3166-1 alpha-2 code"))
        elif pattern is not None and not pattern.match(value):
            problems.append(FieldProblem(name, "contains characters that are not allowed"))
        elif any(ord(c) < 32 for c in value):
            problems.append(FieldProblem(name, "contains control characters"))
    return problems


class Channels(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    email: bool = False
    sms: bool = False
    push: bool = False
    phone: bool = False


class Preferences(BaseModel):
    """The validated schema of ``players.preferences`` (JSONB)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    language: str = "en"
    theme: Literal["light", "dark", "system"] = "system"
    notifications: Channels = Channels(email=True, push=True)
    marketingConsents: Channels = Channels()

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not LOCALE.match(value):
            raise ValueError("must be a language tag such as en or de-AT")
        return value


def merged_preferences(current: dict[str, Any], patch: dict[str, Any]) -> Preferences:
    """Current preferences (defaults filled in) with ``patch`` applied one level deep."""
    base = (
        Preferences.model_validate(current, strict=False).model_dump()
        if current
        else (Preferences().model_dump())
    )
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return Preferences.model_validate(base)


def preference_problems(exc: ValidationError, prefix: str = "preferences") -> list[FieldProblem]:
    return [
        FieldProblem(prefix + "." + ".".join(str(p) for p in e["loc"]), e["msg"])
        for e in exc.errors()
    ]


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(f"{prefix}.{key}", inner))
        return out
    return {prefix: value}


def mask(value: str | None) -> str | None:
    """A value for eyes that may not see personal data: shape kept, content hidden."""
    if value is None:
        return None
    if len(value) <= 2:
        return "*" * len(value)
    if value.startswith("+"):  # phone: country prefix and last two digits
        return value[:3] + "*" * (len(value) - 5) + value[-2:]
    return value[0] + "*" * min(len(value) - 1, 8)


def shown(value: str | None, *, pii: bool, can_see_pii: bool) -> str | None:
    """The value as a caller sees it: personal values are masked unless ``can_see_pii``."""
    return value if can_see_pii or not pii else mask(value)
