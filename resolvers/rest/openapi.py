"""The hand-written OpenAPI 3.1 document of the REST paths (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

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


_MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "decimal string"}

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
                {"name": "status", "in": "query", "schema": {"type": "string"}},
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
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            },
            "Player": {
                "type": "object",
                "required": [
                    "id",
                    "email",
                    "login",
                    "country",
                    "currency",
                    "status",
                    "confirmStatus",
                    "riskLevel",
                    "vipLevel",
                    "createdAt",
                ],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "email": {"type": "string"},
                    "login": {"type": "string"},
                    "country": {"type": "string"},
                    "currency": {"type": "string"},
                    "status": {
                        "type": "string",
                        "enum": ["ACTIVE", "BLOCKED", "SELF_EXCLUDED", "CLOSED"],
                    },
                    "confirmStatus": {
                        "type": "string",
                        "enum": ["UNVERIFIED", "PENDING", "VERIFIED", "REJECTED"],
                    },
                    "riskLevel": {"type": "string", "enum": ["LOW", "MEDIUM", "HIGH"]},
                    "vipLevel": {"type": "integer"},
                    "createdAt": {"type": "string", "format": "date-time"},
                },
            },
            "PlayerPage": {
                "type": "object",
                "required": ["items", "total", "nextCursor"],
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Player"}},
                    "total": {"type": "integer"},
                    "nextCursor": {"type": ["string", "null"]},
                },
            },
            "Wallet": {
                "type": "object",
                "required": ["id", "kind", "currency", "balance", "held", "available"],
                "properties": {
                    "id": {"type": "string"},
                    "kind": {
                        "type": "string",
                        "enum": ["REAL", "BONUS", "FREESPINS", "TOURNAMENT"],
                    },
                    "currency": {"type": "string"},
                    "balance": _MONEY,
                    "held": _MONEY,
                    "available": _MONEY,
                },
            },
            "Balance": {
                "type": "object",
                "required": ["playerId", "wallets"],
                "properties": {
                    "playerId": {"type": "string", "format": "uuid"},
                    "wallets": {"type": "array", "items": {"$ref": "#/components/schemas/Wallet"}},
                },
            },
            "Segment": {
                "type": "object",
                "required": ["playerId", "attributes", "segments"],
                "properties": {
                    "playerId": {"type": "string", "format": "uuid"},
                    "attributes": {"type": "object"},
                    "segments": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "name"],
                            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
}
