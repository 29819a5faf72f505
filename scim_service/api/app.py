"""The ASGI application: SCIM 2.0 under /scim/v2, admin API under /admin, operations.

/scim/v2 is dispatched by RequestContextMiddleware straight to ScimApp (no
FastAPI routing on the SCIM hot path); everything else goes through FastAPI.

`create_app` builds it from `Settings`; `app_from_env` is the factory uvicorn
workers import (settings from PROMPT_SCIM_* variables).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from scim_service._logging import configure_logging
from scim_service.api import admin, ops
from scim_service.api._admin_guard import AdminGuard
from scim_service.api._context import RequestContextMiddleware
from scim_service.api._handlers import ScimHandlers
from scim_service.api.scim import PREFIX, ScimApp
from scim_service.errors import (
    OrganisationExists,
    OrganisationInvalid,
    OrganisationNotFound,
    StoreUnavailable,
    StoreValueRejected,
    TokenNotFound,
)
from scim_service.settings import Settings, ensure_sqlite_directory
from scim_service.storage import Store

_ADMIN_ERRORS: dict[type[Exception], int] = {
    OrganisationNotFound: 404,
    TokenNotFound: 404,
    OrganisationExists: 409,
    OrganisationInvalid: 422,
    StoreUnavailable: 503,
    StoreValueRejected: 400,
}


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """Build the app; it opens (and on shutdown closes) its Store unless given one."""
    # uvicorn's own access line carries the query string, and SCIM filters hold
    # e-mail addresses; RequestContextMiddleware logs a safe line instead.
    logging.getLogger("uvicorn.access").disabled = True

    owns_store = store is None
    if store is None:
        ensure_sqlite_directory(settings.database_url)
        store = Store.open(settings.database_url)
    opened: Store = store

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_store:
            opened.close()

    app = FastAPI(
        title="Prompt SCIM service - admin API",
        version="1.0",
        description=(
            "Manage organisations, their Provisioning Authentication Codes and "
            "read the audit trail. Authenticate with 'Authorization: Bearer "
            f"<{admin.ADMIN_KEY_ENV}>'. The SCIM 2.0 endpoint itself is at "
            f"{PREFIX} (RFC 7644) and is not described here."
        ),
        openapi_url="/admin/openapi.json",
        docs_url="/admin/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.store = opened
    app.state.settings = settings

    app.include_router(admin.router)
    for error, code in _ADMIN_ERRORS.items():
        app.add_exception_handler(error, _admin_error(code))
    app.add_route("/healthz", ops.healthz, methods=["GET"], include_in_schema=False)
    app.add_route("/readyz", ops.readyz, methods=["GET"], include_in_schema=False)
    app.add_route("/metrics", ops.prometheus, methods=["GET"], include_in_schema=False)

    public = f"{settings.base_url}{PREFIX}" if settings.base_url else None
    scim = ScimApp(
        ScimHandlers(opened, settings),
        public_base=public,
        threads=settings.effective_scim_threads(),
    )
    # Added first, so it runs inside RequestContextMiddleware (its answers are
    # logged and measured) and never on the SCIM path, which that one dispatches.
    app.add_middleware(AdminGuard, settings=settings)
    app.add_middleware(RequestContextMiddleware, prefix=PREFIX, mounted=scim)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` workers: settings from the environment.

    Each worker process is an entry point of its own, so it configures logging.
    """
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)


def _admin_error(code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(_: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler
