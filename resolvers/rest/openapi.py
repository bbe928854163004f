"""The OpenAPI 3.1 document of the REST paths (served at /openapi.json). The paths and
parameters are declared here; every body schema is generated from the pydantic models the
handlers serialise through (resolvers/rest/models.py), so the two cannot drift."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

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
