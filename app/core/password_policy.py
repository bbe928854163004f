"""What a new password may not be: the account's own login or email (or contain them), or
a commonly used password. The common list is zxcvbn's frequency list of leaked passwords
(PyPI ``zxcvbn``, MIT; 30,000 entries from breach corpora), read offline from the package:
no network call, no password leaves the process."""

from __future__ import annotations

import importlib
from functools import lru_cache

from app.core.identifiers import normalise_identifier

MIN_PART = 3  # shorter logins/email parts would match too many unrelated passwords


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    # Imported lazily: the list module is large, and only password changes need it.
    lists = importlib.import_module("zxcvbn.frequency_lists").FREQUENCY_LISTS
    return frozenset(str(p) for p in lists["passwords"])


def _personal_parts(login: str | None, email: str | None) -> list[str]:
    parts = [login or "", email or ""]
    if email and "@" in email:
        parts.append(email.split("@", 1)[0])
    return [normalise_identifier(p) for p in parts if len(p.strip()) >= MIN_PART]


def password_problem(password: str, *, login: str | None, email: str | None) -> str | None:
    """Why ``password`` is refused (a message for the ``password`` field), or None."""
    folded = normalise_identifier(password)
    for part in _personal_parts(login, email):
        if part in folded:
            return "must not be or contain your login or email"
    common = common_passwords()
    if folded in common or folded.replace(" ", "") in common:
        return "is a commonly used password; choose another"
    return None
