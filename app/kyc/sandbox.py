"""A sandbox KYC vendor: a small separate HTTP service that behaves like a real one.

``pms kyc-sandbox --port N --callback-url URL --secret S [--api-key K] [--delay 0.3]``

``POST /checks`` (Bearer api key) accepts a check with document metadata, answers 202 with
a check id at once, and after ``delay`` seconds POSTs the signed result to the callback URL
(retrying a few times on failure, as vendors do). Outcomes follow the test data of the
first document's number:

* last character ``0`` -> rejected (reason DOCUMENT_INVALID), ``9`` -> review, else verified;
* number starting ``PEP`` -> PEP match, starting ``SAN`` -> sanctions hit;
* score = the two characters before the last if they are digits (``X1234751`` -> 75), else 10.

``GET /checks/{id}`` shows what was received and sent (for debugging).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.kyc.provider import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger("pms.kyc.sandbox")


def outcome_for(number: str) -> dict[str, Any]:
    last = number[-1:]
    if last == "0":
        outcome, reasons = "rejected", ["DOCUMENT_INVALID"]
    elif last == "9":
        outcome, reasons = "review", ["DOCUMENT_UNCLEAR"]
    else:
        outcome, reasons = "verified", []
    digits = number[-3:-1]
    return {
        "outcome": outcome,
        "reasons": reasons,
        "score": int(digits) if len(digits) == 2 and digits.isdigit() else 10,
        "pep": number.startswith("PEP"),
        "sanctions": number.startswith("SAN"),
    }


def create_sandbox_app(
    *, callback_url: str, secret: str, api_key: str = "sandbox-key", delay: float = 0.3
) -> Starlette:
    checks: dict[str, dict[str, Any]] = {}
    pending: set[asyncio.Task[None]] = set()

    async def deliver(check_id: str, result: dict[str, Any]) -> None:
        await asyncio.sleep(delay)
        body = json.dumps(result).encode()
        async with httpx.AsyncClient(timeout=10) as http:
            for attempt in range(5):
                timestamp = str(int(time.time()))
                headers = {
                    "content-type": "application/json",
                    TIMESTAMP_HEADER: timestamp,
                    SIGNATURE_HEADER: sign(secret, timestamp, body),
                }
                try:
                    response = await http.post(callback_url, content=body, headers=headers)
                    checks[check_id]["callbackStatus"] = response.status_code
                    if response.status_code < 500:
                        return
                except httpx.HTTPError as exc:
                    log.warning("callback for %s failed: %s", check_id, exc)
                await asyncio.sleep(0.2 * 2**attempt)

    async def create_check(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return JSONResponse({"error": "unauthorized"}, 401)
        try:
            data = await request.json()
            reference = data["reference"]
            documents = data["documents"]
            first = documents[0]["number"]
        except (ValueError, KeyError, IndexError, TypeError):
            return JSONResponse({"error": "reference and documents are required"}, 400)
        check_id = f"chk_{uuid.uuid4().hex}"
        result = {"reference": reference, "checkId": check_id, **outcome_for(str(first))}
        checks[check_id] = {"request": data, "result": result, "callbackStatus": None}
        task = asyncio.create_task(deliver(check_id, result))
        pending.add(task)
        task.add_done_callback(pending.discard)
        return JSONResponse(
            {
                "id": check_id,
                "status": "pending",
                "documents": [{"ref": f"doc_{uuid.uuid4().hex[:16]}"} for _ in documents],
            },
            202,
        )

    async def show_check(request: Request) -> JSONResponse:
        check = checks.get(request.path_params["check_id"])
        return JSONResponse(check, 200) if check else JSONResponse({"error": "not found"}, 404)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/checks", create_check, methods=["POST"]),
            Route("/checks/{check_id}", show_check, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def run(
    *, host: str, port: int, callback_url: str, secret: str, api_key: str, delay: float
) -> None:
    import uvicorn

    app = create_sandbox_app(callback_url=callback_url, secret=secret, api_key=api_key, delay=delay)
    uvicorn.run(app, host=host, port=port, log_config=None)
