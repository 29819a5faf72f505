"""A small router for the Graph surface: OData-style paths Starlette cannot express.

Graph paths such as `/servicePrincipals(appId='...')` and the per-route write counter
and fault rules need one dispatcher that sees every /v1.0 request.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import GraphError
from .odata import error_body

if TYPE_CHECKING:
    from .server import Emulator


def now_iso() -> str:
    """Return the current UTC time the way Graph writes DateTimeOffset values."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


@dataclass
class Ctx:
    """What a Graph handler gets: the emulator, the request and the path parameters."""

    emulator: Emulator
    request: Request
    params: dict[str, str]
    method: str
    path: str

    def query(self, name: str) -> str | None:
        """Read an OData query option with or without its `$` prefix."""
        qp = self.request.query_params
        return qp.get(f"${name}") or qp.get(name)

    async def body(self) -> dict[str, Any]:
        raw = await self.request.body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise GraphError(
                400, "BadRequest", f"Request body is not JSON: {exc}."
            ) from exc
        if not isinstance(data, dict):
            raise GraphError(400, "BadRequest", "Request body must be a JSON object.")
        return data

    def created(self, object_id: str) -> None:
        """Tell the fault book an object was created (replication delay applies)."""
        self.emulator.faults.object_created(object_id, self.method, self.path)


Handler = Callable[[Ctx], Awaitable[Response]]


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    write: bool


ROUTES: list[Route] = []


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", template)
    pattern = "".join(
        f"(?P<{p[1:-1]}>[^/]+?)" if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(f"^{pattern}/?$")


def route(
    method: str, template: str, *, write: bool | None = None
) -> Callable[[Handler], Handler]:
    """Register a handler; writes default to every method but GET."""

    def register(handler: Handler) -> Handler:
        is_write = method != "GET" if write is None else write
        ROUTES.append(Route(method, template, _compile(template), handler, is_write))
        return handler

    return register


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


def graph_error_response(error: GraphError) -> JSONResponse:
    request_id = str(uuid.uuid4())
    headers = {"request-id": request_id, **error.headers}
    return JSONResponse(
        error_body(error.code, error.message, request_id, now_iso()),
        status_code=error.status,
        headers=headers,
    )


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """Find the route for a request; a path known under another method is a 405."""
    path_known = False
    for candidate in ROUTES:
        found = candidate.regex.match(path)
        if found is None:
            continue
        path_known = True
        if candidate.method == method:
            return candidate, found.groupdict()
    if path_known:
        raise GraphError(
            405,
            "Request_BadRequest",
            f"The HTTP method '{method}' is not allowed on {path}.",
        )
    return None
