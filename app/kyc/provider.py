"""The KYC provider interface and the generic HTTP adapter.

Wire protocol of the HTTP adapter (what a vendor, or ``app/kyc/sandbox.py``, implements):

* start: ``POST {base_url}/checks`` with ``Authorization: Bearer <api_key>`` and
  ``{"reference": <our case id>, "documents": [{type, country, number, expiry}]}``;
  the vendor answers 2xx ``{"id": <its check id>, "documents": [{"ref": ...}]}``.
* result: the vendor calls ``POST /kyc/callbacks/{provider}`` with the JSON body
  ``{"reference", "checkId", "outcome": "verified"|"rejected"|"review", "score": 0-100,
  "pep": bool, "sanctions": bool, "reasons": [str]}`` and the headers
  ``X-Kyc-Timestamp: <unix seconds>`` and
  ``X-Kyc-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>``.
  Signing the timestamp with the body lets us refuse replays older than the allowed age.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from app.core.settings import KycProviderSettings, Settings
from app.kyc.errors import CallbackRejected, ProviderUnavailable, UnknownProvider

SIGNATURE_HEADER = "x-kyc-signature"
TIMESTAMP_HEADER = "x-kyc-timestamp"
OUTCOMES = ("verified", "rejected", "review")


@dataclass(frozen=True)
class DocumentSubmission:
    """What goes to the provider. The full number is sent to the vendor, never stored."""

    type: str
    country: str
    number: str
    expiry: str  # ISO date


@dataclass(frozen=True)
class StartedCheck:
    provider_ref: str
    document_refs: list[str | None]


@dataclass(frozen=True)
class ProviderResult:
    reference: str
    provider_ref: str
    outcome: str  # one of OUTCOMES
    score: int | None = None
    pep: bool = False
    sanctions: bool = False
    reasons: list[str] = field(default_factory=list)


class KycProvider(Protocol):
    name: str

    async def start_check(
        self, reference: str, documents: list[DocumentSubmission]
    ) -> StartedCheck: ...

    def receive_result(
        self, headers: dict[str, str], body: bytes, now: float | None = None
    ) -> ProviderResult: ...


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, headers: dict[str, str], body: bytes, max_age: int, now: float | None = None
) -> None:
    """Raise CallbackRejected unless the body is signed with ``secret`` recently."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit() or len(timestamp) > 12 or not signature:
        raise CallbackRejected("missing or malformed signature headers")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise CallbackRejected("bad signature")
    if abs((time.time() if now is None else now) - int(timestamp)) > max_age:
        raise CallbackRejected("stale callback")


def parse_result(body: bytes) -> ProviderResult:
    """The vendor's result document; a ValueError for anything malformed."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("body must be an object")
    reference, check_id, outcome = data.get("reference"), data.get("checkId"), data.get("outcome")
    if not isinstance(reference, str) or not isinstance(check_id, str):
        raise ValueError("reference and checkId are required strings")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    score = data.get("score")
    if score is not None and (not isinstance(score, int) or not 0 <= score <= 100):
        raise ValueError("score must be an integer 0-100")
    reasons = data.get("reasons") or []
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError("reasons must be a list of strings")
    return ProviderResult(
        reference=reference,
        provider_ref=check_id,
        outcome=outcome,
        score=score,
        pep=data.get("pep") is True,
        sanctions=data.get("sanctions") is True,
        reasons=[r[:64] for r in reasons[:10]],
    )


class HttpKycProvider:
    """Any vendor speaking the protocol above, configured by base URL, API key and secret."""

    def __init__(self, name: str, config: KycProviderSettings, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.timeout = settings.kyc_provider_timeout_seconds
        self.max_age = settings.kyc_callback_max_age_seconds

    async def start_check(
        self, reference: str, documents: list[DocumentSubmission]
    ) -> StartedCheck:
        payload: dict[str, Any] = {
            "reference": reference,
            "documents": [
                {"type": d.type, "country": d.country, "number": d.number, "expiry": d.expiry}
                for d in documents
            ],
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.post(
                    self.config.base_url.rstrip("/") + "/checks",
                    json=payload,
                    headers={"authorization": f"Bearer {self.config.api_key}"},
                )
            response.raise_for_status()
            body = response.json()
            provider_ref = body["id"]
            refs = [doc.get("ref") for doc in body.get("documents", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderUnavailable(f"KYC provider {self.name} failed: {exc}") from None
        if not isinstance(provider_ref, str) or not provider_ref:
            raise ProviderUnavailable(f"KYC provider {self.name} returned no check id")
        refs = (refs + [None] * len(documents))[: len(documents)]
        return StartedCheck(provider_ref=provider_ref[:128], document_refs=refs)

    def receive_result(
        self, headers: dict[str, str], body: bytes, now: float | None = None
    ) -> ProviderResult:
        verify_signature(self.config.callback_secret, headers, body, self.max_age, now)
        return parse_result(body)


def get_provider(settings: Settings, name: str) -> KycProvider:
    config = settings.kyc_providers.get(name)
    if config is None:
        raise UnknownProvider(f"no KYC provider named {name!r} is configured")
    return HttpKycProvider(name, config, settings)
