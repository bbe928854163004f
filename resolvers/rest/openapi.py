"""The OpenAPI 3.1 document of the REST paths (served at /openapi.json). The paths and
parameters are declared here; every body schema is generated from the pydantic models the
handlers serialise through (resolvers/rest/models.py), so the two cannot drift."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from app.imports.uploads import IMPORT_ID
from resolvers.rest.models import RESPONSE_MODELS

_ERROR = {"$ref": "#/components/responses/Error"}


def _op(
    summary: str, schema_ref: str, *, with_id: bool = True, extra: list[Any] | None = None
) -> dict[str, Any]:
    params: list[Any] = [{"$ref": "#/components/parameters/PlayerId"}] if with_id else []
    params += extra or []
    responses: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": schema_ref}}},
        },
        "401": _ERROR,
        "403": _ERROR,
    }
    if with_id:
        responses["404"] = _ERROR
    else:
        responses["400"] = _ERROR
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def component_schemas() -> dict[str, Any]:
    """JSON Schema (2020-12, what OpenAPI 3.1 uses) of every response model and the
    models and enums they refer to, as they serialise."""
    _, top = models_json_schema(
        [(model, "serialization") for model in RESPONSE_MODELS],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = top["$defs"]
    return schemas


_IMPORT = {"$ref": "#/components/schemas/MarketingImport"}
# The service's own rule, so a client (and the conformance test) sees what is refused.
_IMPORT_ID_SCHEMA = {"type": "string", "pattern": f"^{IMPORT_ID.pattern}$"}
_IMPORT_ID = {"name": "id", "in": "path", "required": True, "schema": _IMPORT_ID_SCHEMA}


def _import_op(
    summary: str, status: str, also: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        status: {"description": "OK", "content": {"application/json": {"schema": _IMPORT}}},
        "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR, "413": _ERROR,
    } | {code: _ERROR for code in also}  # fmt: skip
    return {"summary": summary, "responses": responses, **extra}


# Marketing-list imports (import:marketing): upload = dry run; confirm applies it.
_IMPORT_PATHS: dict[str, Any] = {
    "/imports": {"post": _import_op(
        "Upload a marketing list (the body is the file) and get its dry-run report", "201",
        parameters=[
            {"name": "format", "in": "query", "schema": {"enum": ["csv", "jsonl"]},
             "description": "default: from the Content-Type (application/jsonl or text/csv)"},
            {"name": "importId", "in": "query", "schema": _IMPORT_ID_SCHEMA,
             "description": "your id for the import (default: generated)"},
        ],
        requestBody={"required": True, "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/jsonl": {"schema": {"type": "string"}},
        }},
    )},
    "/imports/{id}": {"get": _import_op(
        "An import: its dry run, progress and final report", "200", parameters=[_IMPORT_ID])},
    "/imports/{id}/confirm": {"post": _import_op(
        "Apply a validated import (idempotent; in the background)", "200",
        also=("422",), parameters=[_IMPORT_ID])},
}  # fmt: skip


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "PMS REST",
        "version": "1",
        "description": "Read paths for microservices. GraphQL at /graphql is the primary API.",
    },
    "security": [{"bearer": []}],
    "paths": {
        "/players": _op(
            "List players, newest first",
            "#/components/schemas/PlayerPage",
            with_id=False,
            extra=[
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
                {
                    "name": "after",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "nextCursor of the previous page",
                },
                {
                    "name": "country",
                    "in": "query",
                    "schema": {"type": "string", "minLength": 2, "maxLength": 2},
                },
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"enum": ["ACTIVE", "BLOCKED", "SELF_EXCLUDED", "CLOSED"]},
                },
            ],
        ),
        "/players/{id}": _op("A player", "#/components/schemas/Player"),
        "/players/{id}/balance": _op("A player's wallets", "#/components/schemas/Balance"),
        "/players/{id}/segment": _op(
            "A player's segment attributes and the segments the player belongs to",
            "#/components/schemas/Segment",
        ),
        **_IMPORT_PATHS,
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "parameters": {
            "PlayerId": {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
            }
        },
        "responses": {
            "Error": {
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
        "schemas": component_schemas(),
    },
}
