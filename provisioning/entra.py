"""One Entra tenant's side of a Prompt organisation, through Microsoft Graph v1.0.

Application from the non-gallery template, synchronization job, secrets, schema,
app role assignments, on-demand provisioning and logs (graph.md sections 2-10).
Every call goes through the SDK's request builders and adapter with raw JSON bodies,
so no field is lost to the SDK's models; results are Graph's JSON untouched.

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
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
from kiota_abstractions.api_error import APIError
from msgraph.graph_service_client import GraphServiceClient

from provisioning._retry import RateLimiter, Timings, call, settle
from provisioning.errors import (
    AmbiguousApplication,
    CredentialsRejected,
    EndpointUnreachable,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphUnavailable,
    ServicePrincipalNotVisible,
    TokenRejected,
)
from provisioning.graph import (
    delete,
    get_json,
    get_url_json,
    graph_error,
    patch_json,
    post_json,
    put_json,
)

__all__ = [
    "CUSTOM_APP_TEMPLATE",
    "MARKER_PREFIX",
    "AppRef",
    "Entra",
    "Timings",
    "marker",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# The global non-gallery ("Custom") application template (graph.md 2).
CUSTOM_APP_TEMPLATE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
MARKER_PREFIX = "prompt-provisioning:"
DEFAULT_RESET_SCOPE = "Watermark, Escrows, QuarantineState"

APP_WRITE = "Application.ReadWrite.All (or Application.ReadWrite.OwnedBy)"
APP_READ = "Application.Read.All"
SYNC_WRITE = "Synchronization.ReadWrite.All"
SYNC_READ = "Synchronization.Read.All"
ASSIGN_WRITE = "AppRoleAssignment.ReadWrite.All and Application.Read.All"
USER_READ = "User.Read.All"
GROUP_READ = "GroupMember.Read.All"
LOGS_READ = "AuditLog.Read.All (the tenant needs Entra ID P1 or P2)"

_SP_SELECT = ["id", "appId", "displayName", "tags", "applicationTemplateId"]
_SECRET_KEYS = {"SecretToken", "Password", "ClientSecret", "Oauth2ClientSecret"}
# Error-code identifiers syncfabric puts in a failed Test Connection's answer.
_TOKEN_CODES = re.compile(r"\b\w*(CredentialValidationFailure|Unauthorized)\b")
_ENDPOINT_CODES = re.compile(
    r"\b\w*(ServiceUnavailable|CredentialValidationUnavailable|Timeout)\b"
)


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


class Entra:
    """Graph operations on one tenant; each method is one logical Graph step."""

    def __init__(self, client: GraphServiceClient, *, timings: Timings | None = None):
        self.client = client
        self.timings = timings or Timings()
        self._created: dict[str, float] = {}
        self._role_ids: dict[str, str] = {}
        self._on_demand = RateLimiter(
            self.timings.on_demand_requests, self.timings.on_demand_window
        )

    # -- application and service principal --------------------------------------

    async def find_app(self, slug: str) -> AppRef | None:
        """Return the application carrying `slug`'s marker, None if there is none.

        Raises AmbiguousApplication when several service principals carry it.
        """
        tag = marker(slug)
        found = await self._call(
            get_json(
                self.client.service_principals,
                query={
                    "filter": f"tags/any(t:t eq {_literal(tag)})",
                    "select": _SP_SELECT,
                },
            ),
            action=f"search the service principal of '{slug}' by its tag {tag}",
            permission=APP_READ,
        )
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
                    "filter": f"displayName eq {_literal(display_name)}",
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
            # Graph created the app, and a retry would create a second one.
            created = await self._call(
                post_json(builder, {"displayName": display_name}, retry=False),
                action=action,
                permission=APP_WRITE,
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

    # -- synchronization job ------------------------------------------------------

    async def get_job(self, app: AppRef) -> dict[str, Any] | None:
        """Return the 'scim' synchronization job (raw JSON), None if there is none."""
        jobs = await self._jobs(app.service_principal_id, app.label, app)
        scim = [job for job in jobs if _is_scim(job)]
        if scim:
            return scim[0]
        legacy = [str(job.get("id")) for job in jobs]
        if legacy:
            raise GraphConflict(
                f"The service principal of {app.label} has a synchronization job "
                f"that was not made from the 'scim' template ({', '.join(legacy)}). "
                f"Delete it in the Entra admin center (Provisioning) so apply can "
                f"create a 'scim' job."
            )
        return None

    async def create_job(self, app: AppRef) -> dict[str, Any]:
        """Create the job from templateId 'scim' (Graph creates it stopped)."""
        existing = await self.get_job(app)
        if existing is not None:
            return existing

        jobs = self._sync(app).jobs
        try:
            job = await self._settle(
                lambda: post_json(jobs, {"templateId": "scim"}, retry=False),
                app,
                action=f"create the synchronization job of {app.label}",
                permission=SYNC_WRITE,
            )
        except GraphUnavailable:
            # The POST may have been executed before the failure: look first.
            found = await self.get_job(app)
            if found is None:
                raise
            return found
        job = job or {}
        job_id = str(job.get("id"))
        self._created[job_id] = time.monotonic()
        log.info("created synchronization job %s for %s", job_id, app.label)

        return await self._settle(
            lambda: get_json(jobs.by_synchronization_job_id(job_id)),
            app,
            action=f"read the new synchronization job {job_id} of {app.label}",
            permission=SYNC_READ,
        )

    async def start_job(self, app: AppRef, job_id: str) -> None:
        """Start (or resume) the job; Graph asks not to call it while running."""
        await self._job_action(app, job_id, "start", None, "started")

    async def pause_job(self, app: AppRef, job_id: str) -> None:
        """Pause the job (portal: Provisioning Status Off)."""
        await self._job_action(app, job_id, "pause", None, "paused")

    async def restart_job(
        self, app: AppRef, job_id: str, *, reset_scope: str = DEFAULT_RESET_SCOPE
    ) -> None:
        """Restart the job; reset_scope goes as a string (the SDK drops the flags)."""
        body = {"criteria": {"resetScope": reset_scope}}
        await self._job_action(app, job_id, "restart", body, "restarted")

    async def _job_action(
        self, app: AppRef, job_id: str, verb: str, body: Any, done: str
    ) -> None:
        job = self._sync(app).jobs.by_synchronization_job_id(job_id)
        builder = getattr(job, verb)
        await self._settle(
            lambda: post_json(builder, body),
            app,
            action=f"{verb} the synchronization job {job_id} of {app.label}",
            permission=SYNC_WRITE,
            key=job_id,
        )
        log.info("%s synchronization job %s for %s", done, job_id, app.label)

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

    # -- credentials and secrets --------------------------------------------------

    async def validate_credentials(
        self, app: AppRef, job_id: str, base_address: str, token: str
    ) -> None:
        """Run Test Connection with BaseAddress and SecretToken (nothing saved).

        Raises TokenRejected, EndpointUnreachable or CredentialsRejected with the
        detail Graph gives; the token never appears in it.
        """
        builder = self._sync(app).jobs.by_synchronization_job_id(job_id)
        body = {
            "useSavedCredentials": False,
            "credentials": [
                {"key": "BaseAddress", "value": base_address},
                {"key": "SecretToken", "value": token},
            ],
        }
        action = f"test the connection of {app.label} to {base_address}"
        try:
            await self._settle(
                lambda: post_json(builder.validate_credentials, body),
                app,
                action=action,
                permission=SYNC_WRITE,
                secrets=(token,),
                key=job_id,
            )
        except GraphError as error:
            if error.status != 400:
                raise
            raise _credentials_error(error, app, base_address) from None
        log.debug("Test Connection to %s succeeded for %s", base_address, app.label)

    async def put_secrets(
        self,
        app: AppRef,
        *,
        base_address: str,
        token: str,
        sync_all: bool,
        notification_email: str | None,
    ) -> None:
        """Save Tenant URL, token, scope and failure e-mails (the complete set)."""
        notifications = {
            "Enabled": bool(notification_email),
            "Recipients": notification_email or "",
        }
        body = {
            "value": [
                {"key": "BaseAddress", "value": base_address},
                {"key": "SecretToken", "value": token},
                # "false" is the portal's "Sync only assigned users and groups".
                {"key": "SyncAll", "value": "true" if sync_all else "false"},
                {"key": "SyncNotificationSettings", "value": json.dumps(notifications)},
            ]
        }
        await self._settle(
            lambda: put_json(self._sync(app).secrets, body),
            app,
            action=f"save the synchronization secrets of {app.label}",
            permission=SYNC_WRITE,
            secrets=(token,),
        )
        log.info(
            "saved synchronization secrets (BaseAddress %s, SecretToken, SyncAll %s, "
            "notifications %s) for %s",
            base_address,
            "true" if sync_all else "false",
            "on" if notification_email else "off",
            app.label,
        )

    async def get_secrets(self, app: AppRef) -> dict[str, str]:
        """Return the saved secrets by key; secret values are masked as '*'."""
        body = await self._settle(
            lambda: get_json(self._sync(app).secrets),
            app,
            action=f"read the synchronization secrets of {app.label}",
            permission=SYNC_READ,
        )
        secrets: dict[str, str] = {}
        for pair in body.get("value") or []:
            key, value = str(pair.get("key")), pair.get("value")
            value = "" if value is None else str(value)
            # Graph masks these; mask again so no caller can ever print one.
            secrets[key] = "*" if key in _SECRET_KEYS and value else value
        return secrets

    # -- schema -------------------------------------------------------------------

    async def get_schema(self, app: AppRef, job_id: str) -> dict[str, Any]:
        """Return the job's synchronization schema as raw JSON (flowTypes intact)."""
        builder = self._sync(app).jobs.by_synchronization_job_id(job_id).schema
        return await self._settle(
            lambda: get_json(builder),
            app,
            action=f"read the synchronization schema of job {job_id} of {app.label}",
            permission=SYNC_READ,
            key=job_id,
        )

    async def put_schema(
        self, app: AppRef, job_id: str, schema: dict[str, Any]
    ) -> None:
        """Replace the job's schema with a raw PUT (the SDK's PATCH answers 404)."""
        builder = self._sync(app).jobs.by_synchronization_job_id(job_id).schema
        await self._settle(
            lambda: put_json(builder, schema),
            app,
            action=f"save the synchronization schema of job {job_id} of {app.label}",
            permission=SYNC_WRITE,
            key=job_id,
        )
        log.info("replaced synchronization schema of job %s for %s", job_id, app.label)

    # -- assignments --------------------------------------------------------------

    async def list_assignments(self, app: AppRef) -> list[dict[str, Any]]:
        """Return every app role assignment of the service principal (all pages)."""
        builder = self._sp(app).app_role_assigned_to
        action = f"list the users and groups assigned to {app.label}"
        page = await self._settle(
            lambda: get_json(builder), app, action=action, permission=APP_READ
        )
        assignments = list(page.get("value") or [])
        while next_link := page.get("@odata.nextLink"):
            page = await self._call(
                get_url_json(builder, str(next_link)),
                action=action,
                permission=APP_READ,
            )
            assignments.extend(page.get("value") or [])
        return assignments

    async def user_role_id(self, app: AppRef) -> str:
        """Return the id of the service principal's enabled "User" app role.

        Not the default-access id: the non-gallery app declares roles (graph.md 9).
        """
        cached = self._role_ids.get(app.service_principal_id)
        if cached:
            return cached
        sp = await self._settle(
            lambda: get_json(self._sp(app), query={"select": ["id", "appRoles"]}),
            app,
            action=f"read the app roles of {app.label}",
            permission=APP_READ,
        )
        for role in sp.get("appRoles") or []:
            named_user = "User" in (role.get("displayName"), role.get("value"))
            if named_user and role.get("isEnabled", True):
                role_id = str(role["id"])
                self._role_ids[app.service_principal_id] = role_id
                return role_id
        raise GraphNotFound(
            f"The service principal of {app.label} has no enabled 'User' app role; "
            f"the application was not made from the non-gallery template. Delete it "
            f"and run apply again."
        )

    async def find_user(self, upn: str) -> dict[str, Any] | None:
        """Return the user with that userPrincipalName, None if there is none."""
        builder = self.client.users.by_user_id(upn)
        try:
            return await self._call(
                get_json(
                    builder,
                    query={"select": ["id", "userPrincipalName", "displayName"]},
                ),
                action=f"look up the user {upn}",
                permission=USER_READ,
            )
        except GraphNotFound:
            return None

    async def find_group(self, display_name: str) -> dict[str, Any] | None:
        """Return the group with that displayName, None if there is none."""
        found = await self._call(
            get_json(
                self.client.groups,
                query={
                    "filter": f"displayName eq {_literal(display_name)}",
                    "select": ["id", "displayName", "securityEnabled"],
                },
            ),
            action=f"look up the group {display_name!r}",
            permission=GROUP_READ,
        )
        groups = found.get("value") or []
        if len(groups) > 1:
            ids = ", ".join(str(g.get("id")) for g in groups)
            raise GraphConflict(
                f"{len(groups)} groups are named {display_name!r} ({ids}); rename "
                f"them in Entra so the assignment is unambiguous."
            )
        return groups[0] if groups else None

    async def assign(
        self, app: AppRef, principal_id: str, role_id: str
    ) -> dict[str, Any]:
        """Assign a user or group; an existing identical assignment is returned."""
        body = {
            "principalId": principal_id,
            "resourceId": app.service_principal_id,
            "appRoleId": role_id,
        }
        try:
            created = await self._settle(
                lambda: post_json(self._sp(app).app_role_assigned_to, body),
                app,
                action=f"assign {principal_id} to {app.label}",
                permission=ASSIGN_WRITE,
            )
        except GraphError as error:
            # A duplicate answers 400 Request_BadRequest; decide by looking, not
            # by Graph's English message.
            if error.status != 400:
                raise
            existing = await self._assignment(app, principal_id, role_id)
            if existing is None:
                raise
            log.debug("%s was already assigned to %s", principal_id, app.label)
            return existing
        assignment = created or {}
        log.info(
            "assigned %s %r to %s",
            str(assignment.get("principalType") or "principal").lower(),
            assignment.get("principalDisplayName") or principal_id,
            app.label,
        )
        return assignment

    async def unassign(self, app: AppRef, assignment_id: str) -> None:
        """Remove an assignment; Entra then disables the user in Prompt."""
        builder = self._sp(app).app_role_assigned_to.by_app_role_assignment_id(
            assignment_id
        )
        try:
            await self._call(
                delete(builder),
                action=f"remove the assignment {assignment_id} from {app.label}",
                permission=ASSIGN_WRITE,
            )
        except GraphNotFound:
            log.debug("assignment %s was already removed", assignment_id)
            return
        log.info("removed assignment %s from %s", assignment_id, app.label)

    async def _assignment(
        self, app: AppRef, principal_id: str, role_id: str
    ) -> dict[str, Any] | None:
        for assignment in await self.list_assignments(app):
            if (
                str(assignment.get("principalId")) == principal_id
                and str(assignment.get("appRoleId")) == role_id
            ):
                return assignment
        return None

    # -- on demand, status, logs --------------------------------------------------

    async def provision_on_demand(
        self,
        app: AppRef,
        job_id: str,
        rule_id: str,
        principal_ids: list[str],
        *,
        object_type: str = "User",
    ) -> dict[str, Any]:
        """Provision each principal now; return {principal id: outcome}.

        An outcome is Graph's answer with its JSON strings decoded: "result"
        (Success, Skipped, Failure), "details" and "steps". Requests are spaced to
        Graph's limit of 5 per 10 seconds.
        """
        builder = self._sync(app).jobs.by_synchronization_job_id(job_id)
        outcomes: dict[str, Any] = {}
        for principal_id in principal_ids:
            body = {
                "parameters": [
                    {
                        "ruleId": rule_id,
                        "subjects": [
                            {"objectId": principal_id, "objectTypeName": object_type}
                        ],
                    }
                ]
            }
            await self._on_demand.wait()
            answer = await self._call(
                post_json(builder.provision_on_demand, body),
                action=f"provision {principal_id} on demand for {app.label}",
                permission=SYNC_WRITE,
            )
            outcomes[principal_id] = _on_demand_outcome(answer or {})
            log.info(
                "provisioned %s on demand for %s: %s",
                principal_id,
                app.label,
                outcomes[principal_id].get("result"),
            )
        return outcomes

    async def provisioning_logs(
        self, app: AppRef, job_id: str, *, top: int = 50
    ) -> list[dict[str, Any]]:
        """Return the newest provisioning log entries of the job (at most `top`)."""
        builder = self.client.audit_logs.provisioning
        query = {
            "filter": (
                f"servicePrincipal/id eq {_literal(app.service_principal_id)} "
                f"and jobId eq {_literal(job_id)}"
            ),
            "top": top,
        }
        action = f"read the provisioning logs of {app.label}"
        page = await self._call(
            get_json(builder, query=query), action=action, permission=LOGS_READ
        )
        entries = list(page.get("value") or [])
        while len(entries) < top and (next_link := page.get("@odata.nextLink")):
            page = await self._call(
                get_url_json(builder, str(next_link)),
                action=action,
                permission=LOGS_READ,
            )
            entries.extend(page.get("value") or [])
        return entries[:top]

    # -- plumbing -----------------------------------------------------------------

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
    ) -> T:
        """Run a request; retry 404/403/409 while its object is freshly created."""
        return await settle(
            request,
            retry=self._is_fresh(app, key),
            timings=self.timings,
            action=action,
            permission=permission,
            secrets=secrets,
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


def _literal(value: str) -> str:
    """Quote an OData string literal; a quote is doubled (graph.md 3)."""
    return "'" + value.replace("'", "''") + "'"


def _is_scim(job: dict[str, Any]) -> bool:
    return job.get("templateId") == "scim" or str(job.get("id", "")).startswith("scim.")


def _credentials_error(
    error: GraphError, app: AppRef, base_address: str
) -> CredentialsRejected:
    detail = str(error).rstrip(".")
    kind: type[CredentialsRejected] = CredentialsRejected
    if _ENDPOINT_CODES.search(detail) or _ENDPOINT_CODES.search(error.code or ""):
        kind, advice = (
            EndpointUnreachable,
            (
                f"make sure {base_address} is reachable from Microsoft's cloud "
                f"over HTTPS and answers SCIM ListResponses"
            ),
        )
    elif _TOKEN_CODES.search(detail) or _TOKEN_CODES.search(error.code or ""):
        kind, advice = (
            TokenRejected,
            (
                "issue a new token for the organisation on the Prompt side "
                "(prompt-provision rotate-token) and check prompt.token"
            ),
        )
    else:
        advice = "check prompt.scim_url and prompt.token"
    return kind(
        f"{detail} - {advice}.",
        status=error.status,
        code=error.code,
        request_id=error.request_id,
    )


def _on_demand_outcome(answer: dict[str, Any]) -> dict[str, Any]:
    """Decode provisionOnDemand's key/value JSON strings (graph.md 8.1)."""
    outcome: dict[str, Any] = {"result": None, "details": None, "steps": None}
    key, value = answer.get("key"), answer.get("value")
    try:
        decoded_key = json.loads(key) if isinstance(key, str) else key
    except ValueError:
        decoded_key = key
    if isinstance(decoded_key, dict):
        outcome["result"] = decoded_key.get("result")
        outcome["details"] = decoded_key.get("details")
    try:
        outcome["steps"] = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        outcome["steps"] = value
    return outcome
