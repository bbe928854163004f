"""``GET /players``, ``/players/{id}``, ``/players/{id}/balance``, ``/players/{id}/segment``
and ``/openapi.json``. JSON, bearer-token auth (the app's authenticator), the same
service calls and permission predicates as GraphQL.

``/segment`` returns the player's segment-relevant attributes and the segments the player
is a member of (kept current by the segmentation engine, app/segments).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.types import get_object_definition

from app.audit import service as audit
from app.core.errors import ValidationFailed
from app.core.logging import request_id_var
from app.core.money import format_amount
from app.core.principal import Principal
from app.events import websocket as ws
from app.players import service
from app.players.models import Player
from app.players.repository import PlayerFilter, PlayerPosition
from app.segments import service as segments
from app.wallets import repository as wallets
from permissions.realtime import may_read_balance, may_read_player, may_read_segments
from permissions.rules import shown_value
from resolvers.rest import imports, models
from resolvers.rest import params as rest_params
from resolvers.rest.openapi import OPENAPI
from schema.ids import parse_uuid, try_int_id, try_uuid
from schema.loaders import Loaders
from schema.pagination import encode_cursor
from schema.reads import Reader, read_player, record_list

Handler = Callable[[Request, Principal], Awaitable[JSONResponse]]


def problem(status: int, code: str, message: str) -> JSONResponse:
    return body(models.Error(error=models.ErrorDetail(code=code, message=message)), status)


def bad_parameter(exc: rest_params.BadParameter) -> JSONResponse:
    detail = models.ErrorDetail(code="VALIDATION_ERROR", message=str(exc), field=exc.field)
    return body(models.Error(error=detail), 400)


def body(model: BaseModel, status: int = 200) -> JSONResponse:
    """Serialised through its model: what /openapi.json declares is what is sent."""
    return JSONResponse(model.model_dump(mode="json"), status)


def player_model(row: Player, principal: Principal) -> BaseModel:
    """The GraphQL Player's plain fields, each shown, masked or null by the same rule."""
    from schema.types.player import Player as PlayerType

    view = PlayerType.from_model(row)
    owner = str(row.id)
    fields = {f.python_name: f for f in get_object_definition(PlayerType, strict=True).fields}
    values = {
        key: shown_value(fields[name], getattr(view, name), principal, owner)
        for name, key, _ in models.player_fields()
    }
    return models.Player.model_validate(values)


def rest_routes(state: Any) -> list[Route]:
    def authenticated(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def endpoint(request: Request) -> JSONResponse:
            token = ws.bearer_token(request.headers.get("authorization"))
            if token is None:
                return problem(401, "UNAUTHENTICATED", "send Authorization: Bearer <token>")
            try:
                caller = await state.authenticator(token)
            except ws.InvalidCredentials:
                return problem(401, "INVALID_TOKEN", "the access token is invalid or expired")
            try:  # every parameter of every route, before the handler reads any
                rest_params.check_all(request.query_params)
                rest_params.check_all(request.path_params)
            except rest_params.BadParameter as exc:
                return bad_parameter(exc)
            return await handler(request, caller.principal)

        return endpoint

    def reader(request: Request, principal: Principal) -> Reader:
        client = request.client
        actor = audit.Actor(
            key=principal.key, ip=client.host if client else None, request_id=request_id_var.get()
        )
        return Reader(principal, state.db, Loaders(state.db), actor, state.events)

    async def load_player(request: Request, principal: Principal) -> Player | JSONResponse:
        player_id = try_uuid(request.path_params["id"])
        if player_id is None:
            return problem(404, "NOT_FOUND", "no such player")
        if not may_read_player(principal, str(player_id)):
            return problem(403, "FORBIDDEN", "not allowed to read this player")
        # The same read as GraphQL's player(id): same permission, same audit row.
        row = await read_player(reader(request, principal), player_id)
        if row is None:
            return problem(404, "NOT_FOUND", "no such player")
        return row

    async def list_players(request: Request, principal: Principal) -> JSONResponse:
        if not may_read_player(principal, None):
            return problem(403, "FORBIDDEN", "not allowed to list players")
        params = request.query_params
        try:
            flt = PlayerFilter(
                country=rest_params.country(params), status=rest_params.status(params)
            )
        except rest_params.BadParameter as exc:
            return bad_parameter(exc)
        limit = try_int_id(params.get("limit", "20"))  # ASCII digits only, like every id
        if limit is None:
            limit = -1
        if not 1 <= limit <= state.settings.max_page_size:
            return problem(400, "BAD_INPUT", f"limit must be 1..{state.settings.max_page_size}")
        after = None
        if params.get("after"):
            from schema.errors import InputError
            from schema.pagination import decode_cursor

            try:
                created_at, pid = decode_cursor(params["after"])
                after = PlayerPosition(datetime.fromisoformat(created_at), parse_uuid(pid, "after"))
            except (InputError, ValidationFailed, TypeError, ValueError):
                return problem(400, "BAD_INPUT", "invalid cursor")
        async with state.db.read_session() as session:
            rows, has_next, total = await service.list_players(session, flt, limit, after)
        await record_list(reader(request, principal), rows)
        cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if has_next and rows else None
        items = [player_model(r, principal) for r in rows]
        return body(models.PlayerPage(items=items, total=total, nextCursor=cursor))

    async def get_player(request: Request, principal: Principal) -> JSONResponse:
        row = await load_player(request, principal)
        return row if isinstance(row, JSONResponse) else body(player_model(row, principal))

    async def get_balance(request: Request, principal: Principal) -> JSONResponse:
        row = await load_player(request, principal)
        if isinstance(row, JSONResponse):
            return row
        if not may_read_balance(principal, str(row.id)):
            return problem(403, "FORBIDDEN", "not allowed to read this player's balance")
        async with state.db.read_session() as session:
            rows = await wallets.for_players(session, [row.id])
        wallet_models = [
            models.Wallet(
                id=str(w.id), kind=w.kind, currency=w.currency,
                balance=format_amount(w.balance, w.currency),
                held=format_amount(w.held, w.currency),
                available=format_amount(w.available, w.currency),
            )
            for w in rows
        ]  # fmt: skip
        return body(models.Balance(playerId=str(row.id), wallets=wallet_models))

    async def get_segment(request: Request, principal: Principal) -> JSONResponse:
        row = await load_player(request, principal)
        if isinstance(row, JSONResponse):
            return row
        if not may_read_segments(principal, str(row.id)):
            return problem(403, "FORBIDDEN", "not allowed to read this player's segments")
        async with state.db.read_session() as session:
            memberships = await segments.segments_of_players(session, [row.id])
        attributes = models.SegmentAttributes(
            country=row.country, currency=row.currency, trafficSource=row.traffic_source,
            affiliateCode=row.affiliate_code, status=row.status, vipLevel=row.vip_level,
            registeredAt=row.created_at,
        )  # fmt: skip
        refs = [models.SegmentRef(id=str(s.id), name=s.name) for _, s in memberships]
        return body(models.Segment(playerId=str(row.id), attributes=attributes, segments=refs))

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(OPENAPI)

    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/players", authenticated(list_players), methods=["GET"]),
        Route("/players/{id}", authenticated(get_player), methods=["GET"]),
        Route("/players/{id}/balance", authenticated(get_balance), methods=["GET"]),
        Route("/players/{id}/segment", authenticated(get_segment), methods=["GET"]),
        *[Route(path, authenticated(partial(handler, state)), methods=[method])
          for path, handler, method in (
              ("/imports", imports.post_import, "POST"),
              ("/imports/{id}", imports.get_import, "GET"),
              ("/imports/{id}/confirm", imports.confirm_import, "POST"))],
    ]  # fmt: skip
