"""Finding and creating an organisation's application in Entra (graph.md 2, 3).

Discovery (DESIGN.md "stateless"): the toolkit writes the marker
`prompt-provisioning:<slug>` into the service principal's tags (what find_app
searches) and the application's tags. Instantiate cannot carry tags, so a run that
dies between instantiate and tagging leaves an untagged application; create_app
adopts it before instantiating anything: same display name, created from the
non-gallery template, no toolkit marker, no synchronization job. Such an app is
either our own orphan or a stub made by hand for the same purpose.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
from kiota_abstractions.api_error import APIError
from msgraph.graph_service_client import GraphServiceClient

from provisioning._retry import Timings, call, settle
from provisioning.errors import (
    AmbiguousApplication,
    GraphNotFound,
    GraphUnavailable,
    ServicePrincipalNotVisible,
)
from provisioning.graph import delete, get_json, graph_error, patch_json, post_json

__all__ = [
    "CUSTOM_APP_TEMPLATE",
    "MARKER_PREFIX",
    "AppRef",
    "ApplicationSteps",
    "marker",
    "odata_literal",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# The global non-gallery ("Custom") application template (graph.md 2).
CUSTOM_APP_TEMPLATE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
MARKER_PREFIX = "prompt-provisioning:"

APP_WRITE = "Application.ReadWrite.All (or Application.ReadWrite.OwnedBy)"
APP_READ = "Application.Read.All"
SYNC_READ = "Synchronization.Read.All"

_SP_SELECT = ["id", "appId", "displayName", "tags", "applicationTemplateId"]


def marker(slug: str) -> str:
    """Return the tag that marks an organisation's application and service principal."""
    return f"{MARKER_PREFIX}{slug}"


@dataclass(frozen=True)
class AppRef:
    """The ids of one organisation's application and its service principal."""

    application_object_id: str
    app_id: str
    service_principal_id: str
    slug: str = ""
    display_name: str = ""

    @property
    def label(self) -> str:
        """Name for messages: the organisation, else the service principal id."""
        return self.slug or f"service principal {self.service_principal_id}"


class GraphSteps:
    """The client, the timings and which objects this process created (fresh)."""

    def __init__(self, client: GraphServiceClient, *, timings: Timings | None = None):
        self.client = client
        self.timings = timings or Timings()
        self._created: dict[str, float] = {}

    def _sp(self, app: AppRef) -> Any:
        return self.client.service_principals.by_service_principal_id(
            app.service_principal_id
        )

    def _sync(self, app: AppRef) -> Any:
        return self._sp(app).synchronization

    async def _call(
        self,
        request: Awaitable[T],
        *,
        action: str,
        permission: str | None,
        secrets: tuple[str, ...] = (),
    ) -> T:
        """Await one Graph request, translating its failure into our errors."""
        return await call(
            request, action=action, permission=permission, secrets=secrets
        )

    async def _settle(
        self,
        request: Callable[[], Awaitable[T]],
        app: AppRef | None,
        *,
        action: str,
        permission: str | None,
        secrets: tuple[str, ...] = (),
        key: str | None = None,
        throttled: bool = False,
    ) -> T:
        """Run a request; retry 404/403/409 while its object is freshly created."""
        return await settle(
            request,
            retry=self._is_fresh(app, key),
            timings=self.timings,
            action=action,
            permission=permission,
            secrets=secrets,
            throttled=throttled,
        )

    def _is_fresh(self, app: AppRef | None, key: str | None) -> bool:
        now = time.monotonic()
        ids = [key] if key else []
        if app is not None:
            ids.append(app.service_principal_id)
        return any(
            now - self._created[i] < self.timings.fresh_for
            for i in ids
            if i in self._created
        )

    async def _jobs(
        self, sp_id: str, label: str, app: AppRef | None = None
    ) -> list[dict[str, Any]]:
        builder = self.client.service_principals.by_service_principal_id(
            sp_id
        ).synchronization.jobs
        body = await self._settle(
            lambda: get_json(builder),
            app,
            action=f"list the synchronization jobs of {label}",
            permission=SYNC_READ,
        )
        return [job for job in body.get("value") or [] if isinstance(job, dict)]


class ApplicationSteps(GraphSteps):
    """Find, create (or adopt), tag and delete an organisation's application."""

    # -- application and service principal --------------------------------------

    async def find_app(self, slug: str) -> AppRef | None:
        """Return the application carrying `slug`'s marker, None if there is none.

        Raises AmbiguousApplication when several service principals carry it.
        """
        tag = marker(slug)
        try:
            found = await self._call(
                get_json(
                    self.client.service_principals,
                    query={
                        "filter": f"tags/any(t:t eq {odata_literal(tag)})",
                        "select": _SP_SELECT,
                    },
                ),
                action=f"search the service principal of '{slug}' by its tag {tag}",
                permission=APP_READ,
            )
        except GraphNotFound as error:
            raise self._not_graph(error) from None
        principals = found.get("value") or []
        if not principals:
            return None
        if len(principals) > 1:
            ids = ", ".join(
                f"{sp.get('displayName')!r} ({sp['id']})" for sp in principals
            )
            raise AmbiguousApplication(
                f"{len(principals)} service principals carry the tag {tag}: {ids}. "
                f"Delete the extra applications in the Entra admin center (keep the "
                f"one with provisioning set up) or remove the tag from them."
            )
        sp = principals[0]
        return await self._app_ref(sp, slug)

    def _not_graph(self, error: GraphNotFound) -> GraphNotFound:
        """Add a hint to a 404 on the first collection query of a run.

        Graph answers a query matching nothing with an empty list, never 404: the
        base URL leads somewhere else (no /v1.0, another server).
        """
        base = self.client.request_adapter.base_url
        return GraphNotFound(
            f"{error} Is --graph-url right? Graph answers a query that matches "
            f"nothing with an empty list, not 404: {base} does not lead to "
            "Microsoft Graph (https://graph.microsoft.com/v1.0) or the emulator "
            "(http://127.0.0.1:PORT/v1.0).",
            status=error.status,
            code=error.code,
            request_id=error.request_id,
        )

    async def create_app(self, slug: str, display_name: str) -> AppRef:
        """Instantiate the non-gallery template, tag it, wait until it is visible.

        Adopts an untagged orphan instead of instantiating (see the module doc).
        """
        app = await self._find_orphan(slug, display_name)
        if app is None:
            app = await self._instantiate(slug, display_name)
        self._created[app.service_principal_id] = time.monotonic()

        await self._tag(app, slug)
        await self._wait_visible(app)
        return app

    async def delete_app(self, app: AppRef) -> None:
        """Delete the application (its service principal goes with it)."""
        builder = self.client.applications.by_application_id(app.application_object_id)
        try:
            await self._call(
                delete(builder),
                action=f"delete the application of {app.label}",
                permission=APP_WRITE,
            )
        except GraphNotFound:
            log.debug("application %s was already deleted", app.application_object_id)
            return
        log.info(
            "deleted application %r (%s) for %s",
            app.display_name,
            app.app_id,
            app.label,
        )

    async def _app_ref(self, sp: dict[str, Any], slug: str) -> AppRef:
        app_id = str(sp["appId"])
        application = await self._call(
            get_json(
                self.client.applications_with_app_id(app_id),
                query={"select": ["id", "appId", "displayName"]},
            ),
            action=f"read the application {app_id} of '{slug}'",
            permission=APP_READ,
        )
        return AppRef(
            application_object_id=str(application["id"]),
            app_id=app_id,
            service_principal_id=str(sp["id"]),
            slug=slug,
            display_name=str(sp.get("displayName") or ""),
        )

    async def _find_orphan(self, slug: str, display_name: str) -> AppRef | None:
        found = await self._call(
            get_json(
                self.client.service_principals,
                query={
                    "filter": f"displayName eq {odata_literal(display_name)}",
                    "select": _SP_SELECT,
                },
            ),
            action=f"search service principals named {display_name!r} for '{slug}'",
            permission=APP_READ,
        )
        orphans = []
        for sp in found.get("value") or []:
            tags = sp.get("tags") or []
            if sp.get("applicationTemplateId") != CUSTOM_APP_TEMPLATE or any(
                str(tag).startswith(MARKER_PREFIX) for tag in tags
            ):
                continue
            jobs = await self._jobs(str(sp["id"]), slug)
            if not jobs:
                orphans.append(sp)

        if len(orphans) > 1:
            ids = ", ".join(sp["id"] for sp in orphans)
            raise AmbiguousApplication(
                f"{len(orphans)} untagged applications are named {display_name!r} "
                f"(service principals {ids}); delete all but one in the Entra admin "
                f"center, then run apply again for '{slug}'."
            )
        if not orphans:
            return None
        app = await self._app_ref(orphans[0], slug)
        log.info(
            "adopting untagged application %r (%s) for %s",
            display_name,
            app.app_id,
            slug,
        )
        return app

    async def _instantiate(self, slug: str, display_name: str) -> AppRef:
        builder = self.client.application_templates.by_application_template_id(
            CUSTOM_APP_TEMPLATE
        ).instantiate
        action = f"create the application {display_name!r} for '{slug}'"
        try:
            # The SDK's retry handler is off for this POST: a 503 may come after
            # Graph created the app, and a retry would create a second one. Only
            # 429 (not executed) is resent, after its Retry-After.
            created = await self._settle(
                lambda: post_json(builder, {"displayName": display_name}, retry=False),
                None,
                action=action,
                permission=APP_WRITE,
                throttled=True,
            )
        except GraphUnavailable:
            orphan = await self._orphan_after_failure(slug, display_name)
            if orphan is None:
                raise
            return orphan

        application = (created or {}).get("application") or {}
        principal = (created or {}).get("servicePrincipal") or {}
        app = AppRef(
            application_object_id=str(application["id"]),
            app_id=str(application["appId"]),
            service_principal_id=str(principal["id"]),
            slug=slug,
            display_name=display_name,
        )
        log.info(
            "created application %r (appId %s, service principal %s) for %s",
            display_name,
            app.app_id,
            app.service_principal_id,
            slug,
        )
        return app

    async def _orphan_after_failure(
        self, slug: str, display_name: str
    ) -> AppRef | None:
        """After a failed instantiate, look (with replication waits) for its app."""
        delay = self.timings.first_delay
        for _ in range(self.timings.visible_reads):
            await asyncio.sleep(delay)
            orphan = await self._find_orphan(slug, display_name)
            if orphan is not None:
                return orphan
            delay = min(delay * 2, self.timings.max_delay)
        return None

    async def _tag(self, app: AppRef, slug: str) -> None:
        tag = marker(slug)
        sp_builder = self.client.service_principals.by_service_principal_id(
            app.service_principal_id
        )
        app_builder = self.client.applications.by_application_id(
            app.application_object_id
        )
        targets = [
            ("service principal", app.service_principal_id, sp_builder),
            ("application", app.application_object_id, app_builder),
        ]
        for kind, object_id, builder in targets:
            current = await self._settle(
                partial(get_json, builder, query={"select": ["id", "tags"]}),
                app,
                action=f"read the tags of the {kind} {object_id} of '{slug}'",
                permission=APP_READ,
            )
            tags = [str(t) for t in current.get("tags") or []]
            if tag in tags:
                continue
            # PATCH replaces the whole list: send the existing tags too, or the
            # WindowsAzureActiveDirectory* tags are lost (graph.md 3).
            await self._settle(
                partial(patch_json, builder, {"tags": [*tags, tag]}),
                app,
                action=f"tag the {kind} {object_id} of '{slug}' with {tag}",
                permission=APP_WRITE,
            )
            log.info("tagged %s %s with %s", kind, object_id, tag)

    async def _wait_visible(self, app: AppRef) -> None:
        """Wait for `visible_reads` successful reads in a row (graph.md 2.1)."""
        builder = self.client.service_principals.by_service_principal_id(
            app.service_principal_id
        )
        timings = self.timings
        delay, streak = timings.first_delay, 0
        for _ in range(timings.attempts + timings.visible_reads):
            try:
                await get_json(builder, query={"select": ["id"]})
            except (APIError, httpx.TransportError) as error:
                status = getattr(error, "response_status_code", None)
                if status not in (403, 404):
                    action = f"read the service principal of {app.label}"
                    raise graph_error(
                        error, action=action, permission=APP_READ
                    ) from None
                streak = 0
                await asyncio.sleep(delay)
                delay = min(delay * 2, timings.max_delay)
                continue
            streak += 1
            if streak >= timings.visible_reads:
                return
            await asyncio.sleep(timings.read_interval)
        raise ServicePrincipalNotVisible(
            f"The service principal {app.service_principal_id} of {app.label} is "
            f"still not readable after the replication wait; run apply again in a "
            f"few minutes (it will be found by its tag, not created twice).",
            status=404,
        )


def odata_literal(value: str) -> str:
    """Quote an OData string literal; a quote is doubled (graph.md 3)."""
    return "'" + value.replace("'", "''") + "'"
