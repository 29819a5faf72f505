"""Operations endpoints: /healthz (process up), /readyz (database), /metrics."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scim_service import metrics
from scim_service.api._context import request_info
from scim_service.errors import StoreUnavailable
from scim_service.storage import Store


async def healthz(request: Request) -> Response:
    """Answer 200 while the process serves requests."""
    request_info(request.scope).route = "/healthz"
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Answer 200 when the database answers, 503 otherwise (for load balancers)."""
    request_info(request.scope).route = "/readyz"
    store: Store = request.app.state.store
    try:
        await anyio.to_thread.run_sync(store.ping)
    except StoreUnavailable:
        # The cause names the database host, port and name, and /readyz needs no
        # credentials: the store has logged it (once), the answer stays generic.
        return JSONResponse(
            {
                "status": "unavailable",
                "detail": "The database is unavailable; the service log has the cause.",
            },
            503,
        )
    return JSONResponse({"status": "ready"})


async def prometheus(request: Request) -> Response:
    """Expose the Prometheus metrics (aggregated over workers if configured)."""
    request_info(request.scope).route = "/metrics"
    body, content_type = await anyio.to_thread.run_sync(metrics.render_latest)
    return Response(body, media_type=content_type)
