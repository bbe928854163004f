"""THE parser of REST query parameters: every parameter passes the same string check as
GraphQL inputs (no NUL, no lone surrogate: app/core/text.py), and the typed ones are
checked against what they may be (an unknown status or country is a 400 naming the
parameter, not an empty 200)."""

from __future__ import annotations

from collections.abc import Mapping

import pycountry

from app.core.text import forbidden_character
from app.players.models import PlayerStatus


class BadParameter(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_all(params: Mapping[str, str]) -> None:
    """Names and values of every query parameter, before any of them is used."""
    for name, value in params.items():
        for text in (name, value):
            bad = forbidden_character(text)
            if bad is not None:
                raise BadParameter(name if text is value else "query", bad)


def text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and (bad := forbidden_character(value)) is not None:
        raise BadParameter(name, bad)
    return value


def country(params: Mapping[str, str], name: str = "country") -> str | None:
    value = text(params, name)
    if value is None:
        return None
    known = len(value) == 2 and value.isascii() and value.isupper()
    if not known or pycountry.countries.get(alpha_2=value) is None:
        raise BadParameter(name, "must be an ISO 3166-1 alpha-2 code such as DE")
    return value


def status(params: Mapping[str, str], name: str = "status") -> str | None:
    value = text(params, name)
    if value is None:
        return None
    if value not in {s.value for s in PlayerStatus}:
        allowed = ", ".join(s.value for s in PlayerStatus)
        raise BadParameter(name, f"must be one of {allowed}")
    return value
