"""The REST response bodies as pydantic models: the handlers build their JSON through
them and ``/openapi.json`` is generated from them, so the document cannot drift from
what is served (issue 17 item 9).

``Player`` is derived from the GraphQL ``Player`` type's plain fields (the REST projection
is the same field set under the same permission rules); every field may be ``null``
because a field the caller may not see is ``null``, as in GraphQL."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from strawberry.types import get_object_definition
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.private import is_private
from strawberry.utils.str_converters import to_camel_case

from app.wallets.models import WalletKind

Money = Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?$", description="decimal string")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Body):
    code: str
    message: str
    # The query or path parameter a VALIDATION_ERROR is about.
    field: str | None = None


class Error(Body):
    error: ErrorDetail


def _python_type(strawberry_type: Any) -> Any:
    """The pydantic annotation of a strawberry field type (scalars, enums, lists)."""
    if isinstance(strawberry_type, StrawberryOptional):
        return _python_type(strawberry_type.of_type)
    if isinstance(strawberry_type, StrawberryList):
        return list[_python_type(strawberry_type.of_type)]  # type: ignore[misc]
    if isinstance(strawberry_type, StrawberryEnumDefinition):
        wrapped: Any = strawberry_type.wrapped_cls  # the Python enum it wraps
        return wrapped
    name = getattr(strawberry_type, "__name__", "")
    if strawberry_type in (str, int, bool, float, dt.date, dt.datetime):
        return strawberry_type
    if name == "ID":
        return str
    return Any  # JSON and other custom scalars


def player_fields() -> list[tuple[str, str, Any]]:
    """(python name, JSON key, annotation) of the GraphQL Player's plain fields."""
    from schema.types.player import Player as PlayerType

    return [
        (f.python_name, to_camel_case(f.python_name), _python_type(f.type))
        for f in get_object_definition(PlayerType, strict=True).fields
        if f.base_resolver is None and not is_private(f.type)  # resolvers: own endpoints
    ]


Player: type[Body] = create_model(  # type: ignore[call-overload]
    "Player",
    __base__=Body,
    **{key: (annotation | None, Field(...)) for _, key, annotation in player_fields()},
)


class PlayerPage(Body):
    items: list[Player]
    total: int
    nextCursor: str | None


class Wallet(Body):
    id: str
    kind: WalletKind
    currency: str
    balance: Money
    held: Money
    available: Money


class Balance(Body):
    playerId: str
    wallets: list[Wallet]


class SegmentAttributes(Body):
    country: str
    currency: str
    trafficSource: str | None
    affiliateCode: str | None
    status: str
    vipLevel: int
    registeredAt: dt.datetime | None


class SegmentRef(Body):
    id: str
    name: str


class Segment(Body):
    playerId: str
    attributes: SegmentAttributes
    segments: list[SegmentRef]


class ImportRowError(Body):
    line: int
    code: str
    message: str


class MarketingImport(Body):
    """An uploaded marketing list, as GraphQL's MarketingImport."""

    importId: str
    format: str
    state: str = Field(description="VALIDATED, HAS_ERRORS, QUEUED, APPLYING, APPLIED or FAILED")
    rows: int
    done: int
    total: int
    errors: list[ImportRowError]
    report: dict[str, Any]


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Error, Player, PlayerPage, Balance, Segment, MarketingImport,
)  # fmt: skip
