"""``POST /imports`` (the file as the body: text/csv or application/jsonl; its dry run),
``GET /imports/{id}`` and ``POST /imports/{id}/confirm``: the same services and
permission (import:marketing) as GraphQL's uploadMarketingList / confirmImport."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.audit import service as audit
from app.core.errors import DomainError, NotFound
from app.core.logging import request_id_var
from app.core.principal import Principal
from app.imports import uploads
from permissions.roles import Permission, is_allowed
from resolvers.rest import models
from schema.types.export import MarketingImport

MAX_ID = 64


def _answer(found: Any, status: int = 200) -> JSONResponse:
    view = MarketingImport.from_model(*found)
    model = models.MarketingImport(
        importId=str(view.id), format=view.format, state=view.state, rows=view.rows,
        done=view.done, total=view.total, report=dict(view.report),  # type: ignore[call-overload]
        errors=[models.ImportRowError(**e) for e in view.row_errors],
    )  # fmt: skip
    return JSONResponse(model.model_dump(mode="json"), status)


def _refused(exc: DomainError) -> JSONResponse:
    status = 404 if isinstance(exc, NotFound) else 422 if exc.code == "IMPORT_HAS_ERRORS" else 400
    detail = models.ErrorDetail(code=exc.code, message=exc.message)
    return JSONResponse(models.Error(error=detail).model_dump(mode="json"), status)


def _forbidden() -> JSONResponse:
    detail = models.ErrorDetail(code="FORBIDDEN", message="needs import:marketing")
    return JSONResponse(models.Error(error=detail).model_dump(mode="json"), 403)


async def _body(request: Request, limit: int) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:  # one byte past the limit is enough to refuse it
            break
    return bytes(data)


def _actor(request: Request, principal: Principal) -> audit.Actor:
    client = request.client
    return audit.Actor(key=principal.key, ip=client.host if client else None,
                       request_id=request_id_var.get())  # fmt: skip


async def _audited(
    state: Any, request: Request, principal: Principal, action: str, response: JSONResponse
) -> JSONResponse:
    """Every call of a write path is audited with its outcome, as GraphQL's mutations."""
    outcome = audit.SUCCESS if response.status_code < 400 else (
        audit.DENIED if response.status_code == 403 else audit.FAILURE)  # fmt: skip
    target = request.path_params.get("id") or request.query_params.get("importId")
    await audit.record_now(state.db, _actor(request, principal), action,
                           target and f"import:{target[:MAX_ID]}", outcome,
                           {"status": response.status_code})  # fmt: skip
    return response


async def post_import(state: Any, request: Request, principal: Principal) -> JSONResponse:
    response = await _post_import(state, request, principal)
    return await _audited(state, request, principal, "rest.postImport", response)


async def confirm_import(state: Any, request: Request, principal: Principal) -> JSONResponse:
    response = await _confirm_import(state, request, principal)
    return await _audited(state, request, principal, "rest.confirmImport", response)


async def _post_import(state: Any, request: Request, principal: Principal) -> JSONResponse:
    if not is_allowed(principal, Permission.IMPORT_MARKETING):
        return _forbidden()
    settings = state.settings
    data = await _body(request, settings.import_max_bytes)
    import_id = request.query_params.get("importId")
    try:
        fmt = uploads.format_of(None, request.headers.get("content-type"),
                                request.query_params.get("format"))  # fmt: skip
        async with state.db.transaction() as session:
            row = await uploads.upload(session, data, fmt, settings, actor=principal.key,
                                       import_id=import_id)  # fmt: skip
            found = await uploads.status(session, row.id)
    except DomainError as exc:
        return _refused(exc)
    return _answer(found, 201)


async def get_import(state: Any, request: Request, principal: Principal) -> JSONResponse:
    if not is_allowed(principal, Permission.IMPORT_MARKETING):
        return _forbidden()
    async with state.db.read_session() as session:
        found = await uploads.status(session, request.path_params["id"][:MAX_ID])
    return _answer(found) if found else _refused(NotFound("no such import"))


async def _confirm_import(state: Any, request: Request, principal: Principal) -> JSONResponse:
    if not is_allowed(principal, Permission.IMPORT_MARKETING):
        return _forbidden()
    try:
        async with state.db.transaction() as session:
            row = await uploads.confirm(session, request.path_params["id"][:MAX_ID],
                                        principal.key)  # fmt: skip
            found = await uploads.status(session, row.id)
    except DomainError as exc:
        return _refused(exc)
    return _answer(found)
