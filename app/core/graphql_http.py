"""GraphQL-over-HTTP media types (https://graphql.github.io/graphql-over-http/): a client
that accepts ``application/graphql-response+json`` gets it, with the spec's status codes
(a request error — no ``data`` entry: unparsable JSON, a syntax or validation error — is
4xx, not 200, and always a JSON body); ``application/json`` keeps the legacy 200s; an
Accept header that allows neither is 406."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

GRAPHQL_RESPONSE = "application/graphql-response+json"
_JSON_LIKE = ("application/json", "text/plain", GRAPHQL_RESPONSE)
_ACCEPTABLE = (GRAPHQL_RESPONSE, "application/json", "application/*", "*/*", "text/html")


# What makes a Content-Type more than a bare media type (parameters, quoting, comments).
_NOT_BARE = frozenset(';="\\(')


def bare_content_type(
    full: Callable[[str], tuple[str, dict[str, str]]],
) -> Callable[[str], tuple[str, dict[str, str]]]:
    """Strawberry's ``parse_content_type`` (``full``) builds an ``email.message.Message``
    for every request; a bare media type (``application/json``, what clients send) is
    answered without it, exactly as ``full`` would answer it; anything else goes to
    ``full``."""

    def parse(value: str) -> tuple[str, dict[str, str]]:
        if _NOT_BARE.isdisjoint(value):
            return value.strip(), {}
        return full(value)

    return parse


def _accepted(accept: str) -> list[tuple[str, float]]:
    """Media ranges of an Accept header with their q values, q=0 dropped."""
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media and q > 0:
            ranges.append((media.lower(), q))
    return ranges


@lru_cache(maxsize=256)  # clients send a handful of distinct Accept values, every request
def negotiate(accept: str | None) -> str | None:
    """The response media type for ``accept``; None when nothing we speak is acceptable."""
    if not accept:
        return "application/json"
    ranges = _accepted(accept)
    if not any(media in _ACCEPTABLE for media, _ in ranges):
        return None
    best = max(ranges, key=lambda r: (r[1], r[0] == GRAPHQL_RESPONSE))
    return GRAPHQL_RESPONSE if best[0] == GRAPHQL_RESPONSE else "application/json"


# How an executed result's body starts (the view's ``{"data": ..., "errors": ...}`` as
# orjson writes it): no need to parse it again to know it is not a request error.
_EXECUTED = b'{"data":{'


def _request_error_status(status: int, body: bytes) -> tuple[int, bytes]:
    """A request error (no data, errors without a path) is 400, without a ``data`` entry;
    a non-JSON error body is wrapped in the GraphQL error shape."""
    if body.startswith(_EXECUTED):
        return status, body  # data is an object: executed, whatever else it carries
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        message = body.decode("utf-8", "replace").strip() or "bad request"
        wrapped = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
        return (status if status >= 400 else 400), json.dumps(wrapped).encode()
    errors = parsed.get("errors") or []
    # Syntax, validation and coercion errors have no ``path``; execution errors do (a
    # null propagated to the root is still an executed request: 200).
    request_error = all(isinstance(e, dict) and "path" not in e for e in errors)
    if status == 200 and parsed.get("data") is None and errors and request_error:
        parsed.pop("data", None)
        return 400, json.dumps(parsed).encode()
    return status, body


def _accept(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The last Accept header's value, as a dict of the headers held it (none built per
    request); None for none or an empty one."""
    found = b""
    for name, value in headers:
        if name == b"accept":
            found = value
    return found.decode("latin-1") or None


class GraphQLMediaTypes:
    """Wraps the GraphQL HTTP endpoint (outside the gate, so its 401/415 are covered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        media = negotiate(_accept(scope["headers"]))
        if media is None:
            await _send_406(send)
            return
        if media != GRAPHQL_RESPONSE:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffering_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if not content_type.decode("latin-1").startswith(_JSON_LIKE):
                    await send(message)  # the IDE's HTML, multipart streams: as they are
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await _send_graphql_response(send, start, b"".join(chunks))

        await self.app(scope, receive, buffering_send)


async def _send_graphql_response(send: Send, start: Message, body: bytes) -> None:
    status, body = _request_error_status(start["status"], body)
    kept = [
        (k, v)
        for k, v in start.get("headers", [])
        if k.lower() not in (b"content-type", b"content-length")
    ]
    headers = [
        *kept,
        (b"content-type", f"{GRAPHQL_RESPONSE}; charset=utf-8".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_406(send: Send) -> None:
    body = json.dumps(
        {"errors": [{"message": f"accept {GRAPHQL_RESPONSE} or application/json",
                     "extensions": {"code": "NOT_ACCEPTABLE"}}]}
    ).encode()  # fmt: skip
    await send({"type": "http.response.start", "status": 406,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
