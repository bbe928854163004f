"""Routes serving the dashboard's files under a strict Content-Security-Policy.

The page is plain JavaScript with no build step (app/backoffice/static), so what is
served is what is committed. Everything it does goes through /graphql with the staff
member's own token: the server, not the page, decides what each role may see.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "static"
PATH = "/admin"

# No inline script or style, no third-party origin: an injected string cannot run, and
# the page cannot be framed (clickjacking of the status buttons).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class _Hardened:
    """The static files app with the page's security headers on every answer."""

    def __init__(self, files: StaticFiles) -> None:
        self._files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self._files(scope, receive, send_with_headers)


async def _to_index(request: Request) -> Response:
    return RedirectResponse(f"{PATH}/", status_code=308)


def admin_routes() -> list[BaseRoute]:
    files = StaticFiles(directory=STATIC_DIR, html=True)
    return [Route(PATH, _to_index, methods=["GET"]), Mount(PATH, app=_Hardened(files))]
