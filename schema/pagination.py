"""Relay-style cursor connections shared by every paginated list."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

import strawberry

from schema.errors import InputError

NodeT = TypeVar("NodeT")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count: int

    @classmethod
    def build(
        cls, nodes: list[tuple[str, NodeT]], *, has_next: bool, has_previous: bool, total: int
    ) -> Connection[NodeT]:
        edges = [Edge(cursor=cursor, node=node) for cursor, node in nodes]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=has_previous,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total,
        )


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts, default=str).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InputError("invalid cursor") from None
    if not isinstance(parts, list):
        raise InputError("invalid cursor")
    return parts


def decode_id_cursor(cursor: str | None) -> int | None:
    """The row id an id-ordered page continues after (lists newest first by id)."""
    if cursor is None:
        return None
    parts = decode_cursor(cursor)
    if len(parts) != 1 or not isinstance(parts[0], int):
        raise InputError("invalid cursor")
    return parts[0]


def check_page_size(first: int, maximum: int) -> int:
    if not 1 <= first <= maximum:
        raise InputError(f"first must be between 1 and {maximum}")
    return first
