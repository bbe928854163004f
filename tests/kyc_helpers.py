"""Helpers for KYC tests: signed callbacks and provider settings."""

from __future__ import annotations

import json
import time
from typing import Any

from app.core.settings import KycProviderSettings, Settings
from app.kyc.provider import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

SECRET = "test-callback-secret"
API_KEY = "test-api-key"


def with_provider(settings: Settings, base_url: str = "http://127.0.0.1:9") -> Settings:
    return settings.model_copy(
        update={
            "kyc_providers": {
                "sandbox": KycProviderSettings(
                    base_url=base_url, api_key=API_KEY, callback_secret=SECRET
                )
            }
        }
    )


def signed(payload: dict[str, Any], *, secret: str = SECRET, at: float | None = None):
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time() if at is None else at))
    headers = {
        "content-type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    return body, headers


async def open_case_with(
    db: Any, settings: Settings, *, provider: str = "sandbox", outcome: str | None = None,
    **result: Any,
) -> Any:  # fmt: skip
    """A new player's case opened (PENDING) through the service, in its own transaction
    (so cases opened in turn get increasing created_at); then, with ``outcome``, the
    provider's result applied. Returns the case row."""
    from app.kyc import service
    from app.kyc.provider import DocumentSubmission, ProviderResult
    from tests.factories import create_player

    player = await create_player(db, settings)
    async with db.transaction() as session:
        case = await service.open_case(
            session, player.id, [DocumentSubmission("PASSPORT", "DE", "C01X00T471", "2035-01-01")],
            provider=provider, actor="player:x", settings=settings,
        )  # fmt: skip
    if outcome is not None:
        async with db.transaction() as session:
            answer = ProviderResult(reference=str(case.id), provider_ref=f"chk_{case.id.hex[:8]}",
                                    outcome=outcome, **result)  # fmt: skip
            case, _ = await service.apply_provider_result(session, provider, answer, settings)
    return case
