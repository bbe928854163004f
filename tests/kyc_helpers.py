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
