"""Admin API guard (pure ASGI): admin key and body size checked before a body is read.

FastAPI reads and parses a whole body before any dependency runs, so without this
an unauthenticated client could make the process buffer as much as it sends.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scim_service.api._request import read_capped_body
from scim_service.api.admin import admin_key_refusal
from scim_service.settings import Settings

ADMIN_PREFIX = "/admin"
# Admin documents (an organisation, a token label, a secret to verify) are well
# under 1 KiB; 64 KiB leaves room without letting a client fill memory.
MAX_ADMIN_BODY_BYTES = 65_536


class AdminGuard:
    """Refuse /admin requests with a body that is too large or not authenticated."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        authorization, length, chunked = _headers(scope)
        if length is not None and length > MAX_ADMIN_BODY_BYTES:
            await _too_large(scope, receive, send)
            return
        if not (length or chunked):
            await self.app(scope, receive, send)
            return

        # The key first: a stranger's body is never read at all.
        refusal = admin_key_refusal(self.settings, authorization)
        if refusal is not None:
            status, detail, headers = refusal
            response = JSONResponse({"detail": detail}, status, headers=headers)
            await response(scope, receive, send)
            return

        body = await read_capped_body(receive, MAX_ADMIN_BODY_BYTES)
        if body is None:
            await _too_large(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _headers(scope: Scope) -> tuple[str | None, int | None, bool]:
    authorization = None
    length = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return authorization, length, chunked


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the real channel."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        {
            "detail": (
                f"The request body is larger than {MAX_ADMIN_BODY_BYTES} bytes; "
                "admin requests carry one small JSON document."
            )
        },
        413,
    )
    await response(scope, receive, send)
