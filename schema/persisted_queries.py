"""Apollo automatic persisted queries (APQ): a client sends
``extensions.persistedQuery = {version: 1, sha256Hash}`` instead of the document; an
unknown hash answers the standard ``PersistedQueryNotFound`` error and the client sends
the document once more with its hash. The server checks the hash against the document
and keeps it (bounded LRU, ``persisted_queries_max``) only after it executed, that is
after it parsed and passed every validation rule (depth, aliases, cost, ...): a refused
or misspelt document is never registered. GET and POST alike (the HTTP view)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from strawberry.http import GraphQLRequestData

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
BAD_REQUEST = "BAD_REQUEST"


class PersistedQueryError(Exception):
    """Answered as a GraphQL request error (no ``data``) with ``status``."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


# The messages are the protocol: Apollo's link matches on them (and on the codes).
_NOT_FOUND = PersistedQueryError(200, "PersistedQueryNotFound", NOT_FOUND)
_NOT_SUPPORTED = PersistedQueryError(200, "PersistedQueryNotSupported", NOT_SUPPORTED)


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


class PersistedQueries:
    """The process's store of documents by hash, least recently used evicted first."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._documents: OrderedDict[str, str] = OrderedDict()

    def resolve(self, data: GraphQLRequestData) -> tuple[GraphQLRequestData, str | None]:
        """The request with its document filled in from the store, and the hash to
        register after execution (None: nothing to register)."""
        wanted = _requested_hash(data.extensions)
        if wanted is None:
            return data, None
        if self.max_entries == 0:
            raise _NOT_SUPPORTED
        if data.query is None or data.query == "":
            query = self._documents.get(wanted)
            if query is None:
                raise _NOT_FOUND
            self._documents.move_to_end(wanted)
            return replace(data, query=query), None
        if sha256_hex(data.query) != wanted:
            raise PersistedQueryError(400, "provided sha does not match query", HASH_MISMATCH)
        return data, (None if wanted in self._documents else wanted)

    def register(self, sha256_hash: str, query: str) -> None:
        self._documents[sha256_hash] = query
        self._documents.move_to_end(sha256_hash)
        while len(self._documents) > self.max_entries:
            self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)


def _requested_hash(extensions: dict[str, Any] | None) -> str | None:
    """The lower-case sha256 hex of ``extensions.persistedQuery``, if the request has one."""
    if not extensions or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(400, "Unsupported persisted query version", BAD_REQUEST)
    value = persisted.get("sha256Hash")
    if not isinstance(value, str) or len(value) != 64:
        raise PersistedQueryError(400, "sha256Hash must be 64 hex digits", BAD_REQUEST)
    value = value.lower()
    if any(c not in "0123456789abcdef" for c in value):
        raise PersistedQueryError(400, "sha256Hash must be 64 hex digits", BAD_REQUEST)
    return value
