"""Rules for submitted document metadata. Pure: every problem is collected."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from typing import Any

import pycountry

from app.core.errors import FieldProblem
from app.kyc.provider import DocumentSubmission

DOCUMENT_TYPES = ("PASSPORT", "ID_CARD", "DRIVING_LICENCE", "RESIDENCE_PERMIT")
DOCUMENT_NUMBER = re.compile(r"^[A-Z0-9]{5,20}$")
MAX_DOCUMENTS = 3


def is_country(code: str) -> bool:
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


def document_problems(documents: list[DocumentSubmission], today: date) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not 1 <= len(documents) <= MAX_DOCUMENTS:
        return [FieldProblem("documents", f"submit 1 to {MAX_DOCUMENTS} documents")]
    seen: set[tuple[str, str]] = set()
    for i, doc in enumerate(documents):
        at = f"documents[{i}]"
        if doc.type not in DOCUMENT_TYPES:
            problems.append(
                FieldProblem(f"{at}.type", f"unsupported type; one of {', '.join(DOCUMENT_TYPES)}")
            )
        if not is_country(doc.country):
            problems.append(FieldProblem(f"{at}.country", "must be an ISO 3166-1 alpha-2 code"))
        if not DOCUMENT_NUMBER.match(doc.number):
            problems.append(FieldProblem(f"{at}.number", "5-20 upper-case letters or digits"))
        try:
            expiry = date.fromisoformat(doc.expiry)
        except ValueError:
            problems.append(FieldProblem(f"{at}.expiry", "must be a date (YYYY-MM-DD)"))
        else:
            if expiry <= today:
                problems.append(FieldProblem(f"{at}.expiry", "the document has expired"))
        if (doc.type, doc.number) in seen:
            problems.append(FieldProblem(f"{at}.number", "the same document is listed twice"))
        seen.add((doc.type, doc.number))
    return problems


def document_metadata(doc: DocumentSubmission, hash_key: str, ref: str | None) -> dict[str, Any]:
    """What we keep of a document: never the image, never the full number."""
    digest = hmac.new(
        hash_key.encode(), f"{doc.type}:{doc.country}:{doc.number}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "type": doc.type,
        "country": doc.country,
        "numberLast4": doc.number[-4:],
        "numberHash": digest,
        "expiry": doc.expiry,
        "providerDocumentRef": ref,
    }
