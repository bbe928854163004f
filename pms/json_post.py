"""``POST /graphql`` with a JSON object body (what every API client sends, the money
mutations included), served without Strawberry's generic HTTP view around the operation.

For each such request Strawberry's ``GraphQL.__call__``/``run`` builds a Starlette
request, a cross-web adapter, a sub-response (a Starlette ``Response`` whose headers it
then edits), parses the Content-Type and Accept headers again, looks the query string up
for the IDE, checks the result for streams and builds a second ``Response`` to send:
~9 % of a money request's CPU in process (bench/README.md, branch gql3). This path does
what those steps amount to for that request and calls the same view hooks
(``get_root_value``, ``get_context``, ``execute_single`` with the persisted queries,
``process_result``, ``_handle_errors``, ``encode_json``), so the answer is byte for byte
Strawberry's: tests/e2e/test_json_post.py sends the same requests both ways.

Anything else (GET, uploads, a batch list, a stream transport asked for in Accept, a body
that is not a JSON object with well-typed members, @defer/@stream enabled) goes to
Strawberry's path with the body already read handed back to it unchanged, so its own
answers (400s and their texts) stay where they are."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive, Scope, Send
from strawberry.http import GraphQLRequestData

from app.core import json_codec
from schema.persisted_queries import PersistedQueryError

JSON = b"application/json"


class _PostAdapter:
    """What ``execute_single`` reads of Strawberry's request adapter."""

    method = "POST"


POST = _PostAdapter()


async def read_body(receive: Receive) -> bytes:
    """The whole request body, as Starlette's ``Request.body`` reads it (a disconnect
    before its end is ``ClientDisconnect``)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` with the body already read given back first."""
    pending = True

    async def again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def eligible(scope: Scope, stream_accepts: Callable[[str], bool]) -> bool:
    """A POST of ``application/json`` (the gate already mapped the GraphQL-over-HTTP media
    type to it) that asks for no streamed answer."""
    if scope["method"] != "POST":
        return False
    content_type = accept = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"accept":
            accept = value
    if content_type is None or content_type.strip().lower() != JSON:
        return False
    return accept is None or not stream_accepts(accept.decode("latin-1"))


def request_data(body: bytes) -> GraphQLRequestData | None:
    """The operation of a JSON object body whose members have the types Strawberry
    accepts; None for anything Strawberry's parser must answer itself."""
    try:
        data = json_codec.decode(body)
    except Exception:  # Strawberry answers its 400 (or whatever it answered before)
        return None
    if not isinstance(data, dict):
        return None
    query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
    if not isinstance(query, str | None) or not isinstance(variables, dict | None):
        return None
    if not isinstance(extensions, dict | None):
        return None
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=data.get("operationName"),
        extensions=extensions,
        protocol="http",
    )


async def send_body(send: Send, status: int, body: bytes, media_type: bytes = JSON) -> None:
    """What Starlette's ``Response(body, status, media_type)`` sends (same header order)."""
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", media_type)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serve(
    view: Any,
    scope: Scope,
    receive: Receive,
    send: Send,
    strawberry_path: Callable[[Scope, Receive, Send], Awaitable[None]],
) -> None:
    """One eligible POST through ``view`` (a ``PMSGraphQL``)."""
    body = await read_body(receive)
    data = request_data(body)
    if data is None:
        await strawberry_path(scope, replaying(body, receive), send)
        return
    request = Request(scope, receive)
    request._body = body  # what Request.body() returns to anyone reading it again
    root_value = await view.get_root_value(request)
    context = await view.get_context(request, response=None)  # PMS's ignores it
    try:
        result = await view.execute_single(
            request=request,
            request_adapter=POST,
            sub_response=None,  # read by nothing on this path (get_context ignores it)
            context=context,
            root_value=root_value,
            request_data=data,
        )
    except HTTPException as exc:  # what GraphQL.__call__ answers for it
        await send_body(send, exc.status_code, exc.reason.encode(), b"text/plain; charset=utf-8")
        return
    except PersistedQueryError as exc:  # what PMSGraphQL.run answers for it
        await send_body(send, exc.status, json_codec.encode_bytes(exc.body()))
        return
    response_data = await view.process_result(request=request, result=result)
    if result.errors:
        view._handle_errors(result.errors, response_data)
    await send_body(send, 200, json_codec.encode_bytes(response_data))
