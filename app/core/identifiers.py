"""One canonical spelling of what people sign in with (emails, logins): Unicode NFKC
(full-width and other compatibility forms fold to ASCII) and case folding, so every
spelling of an identifier finds, and is throttled as, the same account."""

from __future__ import annotations

import unicodedata


def normalise_identifier(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).casefold().strip()
