"""The rules of the request edge that app/core/edge.py runs: which request ids a caller
may choose, and the request body size limit."""

from __future__ import annotations

import json
import re

from starlette.types import Scope, Send

# An ``X-Request-ID`` the caller may choose (logs and responses carry it, so a masked
# error can be found in the logs); anything else gets a new id.
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(Exception):
    pass


# What a multipart envelope adds around an uploaded file (boundaries, the operations part).
UPLOAD_OVERHEAD_BYTES = 64 * 1024


class BodyLimit:
    """Bodies over ``max_bytes`` are refused with 413, by Content-Length up front and by
    counting streamed chunks (a chunked body has no Content-Length)."""

    def __init__(
        self, max_bytes: int, *, upload_max_bytes: int = 0, upload_paths: tuple[str, ...] = ()
    ) -> None:
        self.max_bytes = max_bytes
        # File uploads (multipart/form-data, or any body on a pure upload path such as
        # /imports) may be bigger; the service refuses a file over its own limit.
        self.upload_max_bytes = max(upload_max_bytes, max_bytes)
        self.upload_paths = upload_paths

    def limit(self, scope: Scope, headers: dict[bytes, bytes]) -> int:
        path = scope.get("path", "")
        is_form = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        if path == "/imports" or (path in self.upload_paths and is_form):
            return self.upload_max_bytes
        return self.max_bytes


async def send_413(send: Send, max_bytes: int) -> None:
    body = json.dumps({"error": f"request body larger than {max_bytes} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
