"""The one GraphQL schema, as the composition root serves it.

Placeholder: re-exports ``schema.build_schema`` until the schema assembly moves here.
"""

from __future__ import annotations

from schema import build_schema

__all__ = ["build_schema"]
