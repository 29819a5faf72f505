"""The SCIM 2.0 endpoint (RFC 7644) under /scim/v2 and /scim/v2/{org}: routing.

A small ASGI app rather than a router: it splits the path into segments, which
tolerates the doubled and trailing slashes Entra's Tenant URLs produce, reads
the body, and runs the whole synchronous request (authentication, store,
protocol) in one worker-thread hop. No pydantic on this path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from starlette._utils import get_route_path
from starlette.types import Receive, Scope, Send

from scim_service.api._context import request_info
from scim_service.api._request import ScimRequest, read_capped_body
from scim_service.api._responses import SCIM_MEDIA_TYPE, ScimResponse, error_response
from scim_service.protocol.endpoints import ENDPOINTS

if TYPE_CHECKING:
    from scim_service.api._handlers import ScimHandlers

logger = logging.getLogger(__name__)

PREFIX = "/scim/v2"

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# One resource or PatchOp is a few KiB; a cap keeps a client from filling memory.
MAX_BODY_BYTES = 1_048_576


class ScimApp:
    """ASGI app answering every path under /scim/v2."""

    def __init__(
        self,
        handlers: ScimHandlers,
        *,
        public_base: str | None = None,
        use_threadpool: bool = True,
        threads: int | None = None,
    ) -> None:
        self.handlers = handlers
        self.public_base = public_base
        self.use_threadpool = use_threadpool
        self.threads = threads
        self._capacity: anyio.CapacityLimiter | None = None

    def _limiter(self) -> anyio.CapacityLimiter | None:
        # Created lazily: a CapacityLimiter belongs to the running event loop.
        if self.threads is None:
            return None
        if self._capacity is None:
            self._capacity = anyio.CapacityLimiter(self.threads)
        return self._capacity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        info = request_info(scope)
        request = _to_request(scope, info.request_id, self.public_base)
        if request.method in _BODY_METHODS:
            body = await read_capped_body(receive, MAX_BODY_BYTES)
            if body is None:
                info.route = PREFIX
                response = error_response(
                    413,
                    f"The request body is larger than {MAX_BODY_BYTES} bytes; send "
                    "one resource per request (/Bulk is not supported).",
                )
                info.scim_type = None
                await _send(send, response)
                return
            request.body = body

        if self.use_threadpool:
            response = await anyio.to_thread.run_sync(
                self.handlers.handle, request, limiter=self._limiter()
            )
        else:
            response = self.handlers.handle(request)

        info.route = request.route
        info.organisation = request.result_org
        info.scim_type = response.scim_type
        await _send(send, response)


def _to_request(scope: Scope, request_id: str, public_base: str | None) -> ScimRequest:
    segments = [part for part in get_route_path(scope).split("/") if part]
    organisation = None
    if segments and segments[0].lower() not in ENDPOINTS:
        organisation = segments.pop(0)

    endpoint = ENDPOINTS.get(segments[0].lower(), "") if segments else ""
    # Parameter names are matched case-insensitively; unknown ones (such as
    # Entra's aadOptscim062020 flag copied from the Tenant URL) are ignored.
    query = {
        key.lower(): value
        for key, value in parse_qsl(
            scope["query_string"].decode("latin-1"), keep_blank_values=True
        )
    }
    authorization = content_type = host = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"host":
            host = value.decode("latin-1")

    return ScimRequest(
        method=scope["method"],
        endpoint=endpoint,
        rest=segments[1:],
        organisation=organisation,
        query=query,
        authorization=authorization,
        content_type=content_type,
        body=b"",
        base_url=_base_url(scope, host, organisation, public_base),
        request_id=request_id,
    )


def _base_url(
    scope: Scope,
    host: str | None,
    organisation: str | None,
    public_base: str | None,
) -> str:
    root = public_base
    if not root:
        scheme = scope.get("scheme", "http")
        if host is None:
            server = scope.get("server") or ("localhost", 80)
            host = f"{server[0]}:{server[1]}"
        root = f"{scheme}://{host}{scope.get('root_path', '')}"
    return f"{root}/{organisation}" if organisation else root


async def _send(send: Send, response: ScimResponse) -> None:
    headers = [*response.headers]
    if response.body or response.status != 204:
        headers.append((b"content-type", SCIM_MEDIA_TYPE.encode()))
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send(
        {"type": "http.response.start", "status": response.status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": response.body})
