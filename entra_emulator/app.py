"""The ASGI app: Graph under /v1.0, admin API under /_emulator, the cycle scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import graph_apps, graph_directory, graph_sync  # noqa: F401  (register routes)
from .admin import admin_routes
from .errors import AdminRequestInvalid, GraphError, NotFound
from .routing import Ctx, graph_error_response, match
from .server import Emulator

logger = logging.getLogger(__name__)


def _graph_endpoint(emulator: Emulator) -> Route:
    async def dispatch(request: Request) -> Response:
        path = "/" + request.path_params["path"]
        method = request.method
        try:
            fault = emulator.faults.take_status_fault(method, path)
            if fault is not None and not fault.after:
                return graph_error_response(fault.error)
            found = match(method, path)
            if found is None:
                segment = path.strip("/").split("/")[0]
                raise GraphError(
                    400,
                    "BadRequest",
                    f"Resource not found for the segment '{segment}'.",
                )
            route, params = found
            with emulator.lock:
                emulator.request_counts[f"{method} {route.template}"] += 1
            response = await route.handler(Ctx(emulator, request, params, method, path))
        except GraphError as exc:
            return graph_error_response(exc)
        except NotFound as exc:
            return graph_error_response(
                GraphError(404, "Request_ResourceNotFound", str(exc))
            )

        if route.write and 200 <= response.status_code < 300:
            with emulator.lock:
                emulator.write_counts[f"{method} {route.template}"] += 1
        if fault is not None:
            # Carried out, but the caller gets the error: an answer lost on the way.
            return graph_error_response(fault.error)
        return response

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Route("/v1.0/{path:path}", dispatch, methods=methods)


async def _scheduler(emulator: Emulator) -> None:
    """Run due cycles of started jobs (every `cycle_interval` seconds after start)."""
    while True:
        await asyncio.sleep(0.5)
        for job_id in emulator.due_jobs():
            job = emulator.jobs.get(job_id)
            if job is None or job.runtime.lock().locked():
                continue
            job.runtime.next_cycle_at = None
            try:
                await emulator.run_cycle(job_id)
            except AdminRequestInvalid as exc:  # paused or broken since it was due
                logger.warning("scheduled cycle of job %s skipped: %s", job_id, exc)
            except Exception:  # keep the scheduler alive; the traceback is logged
                logger.exception("scheduled cycle of job %s failed", job_id)
            with emulator.lock:
                if job.schedule_state == "Active":
                    interval = emulator.config.cycle_interval
                    job.runtime.next_cycle_at = time.monotonic() + interval


def create_app(emulator: Emulator) -> Starlette:
    """Build the ASGI app serving one emulator."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        emulator.loop = asyncio.get_running_loop()
        task = asyncio.create_task(_scheduler(emulator))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            emulator.loop = None

    routes = [_graph_endpoint(emulator), *admin_routes(emulator)]
    return Starlette(routes=routes, lifespan=lifespan)
