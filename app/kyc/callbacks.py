"""``POST /kyc/callbacks/{provider}``: results pushed by KYC vendors.

401 bad/missing/stale signature (nothing changes), 404 unknown provider or case,
400 malformed body, 200 applied or already applied (idempotent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.core.db import Database
from app.core.errors import NotFound
from app.core.settings import Settings
from app.kyc import service
from app.kyc.errors import CallbackRejected, UnknownProvider
from app.kyc.provider import get_provider

log = logging.getLogger(__name__)


def callback_endpoint(
    get_db: Callable[[], Database], settings: Settings
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def kyc_callback(request: Request) -> JSONResponse:
        name = request.path_params["provider"]
        try:
            provider = get_provider(settings, name)
        except UnknownProvider:
            return JSONResponse({"error": "unknown provider"}, 404)
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            result = provider.receive_result(headers, body)
        except CallbackRejected as exc:
            log.warning("KYC callback from %s refused: %s", name, exc.message)
            return JSONResponse({"error": "unauthorized"}, 401)
        except (ValueError, json.JSONDecodeError) as exc:
            return JSONResponse({"error": f"malformed result: {exc}"}, 400)
        try:
            async with get_db().transaction() as session:
                case, changed = await service.apply_provider_result(session, name, result, settings)
        except NotFound:
            return JSONResponse({"error": "unknown case"}, 404)
        return JSONResponse({"caseId": str(case.id), "status": case.status, "applied": changed})

    return kyc_callback
