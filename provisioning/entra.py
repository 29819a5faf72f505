"""One Entra tenant's side of a Prompt organisation, through Microsoft Graph v1.0.

Application from the non-gallery template, synchronization job, secrets, schema,
app role assignments, on-demand provisioning and logs (graph.md sections 2-10).
Every call goes through the SDK's request builders and adapter with raw JSON bodies,
so no field is lost to the SDK's models; results are Graph's JSON untouched.

Application discovery and creation live in provisioning._apps (marker, orphans).
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from msgraph.graph_service_client import GraphServiceClient

from provisioning._apps import (
    APP_READ,
    CUSTOM_APP_TEMPLATE,
    MARKER_PREFIX,
    SYNC_READ,
    ApplicationSteps,
    AppRef,
    marker,
    odata_literal,
)
from provisioning._retry import RateLimiter, Timings
from provisioning.errors import (
    CredentialsRejected,
    EndpointUnreachable,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphUnavailable,
    TokenRejected,
)
from provisioning.graph import delete, get_json, get_url_json, post_json, put_json

__all__ = [
    "CUSTOM_APP_TEMPLATE",
    "MARKER_PREFIX",
    "AppRef",
    "Entra",
    "Timings",
    "marker",
]

log = logging.getLogger(__name__)

DEFAULT_RESET_SCOPE = "Watermark, Escrows, QuarantineState"

SYNC_WRITE = "Synchronization.ReadWrite.All"
ASSIGN_WRITE = "AppRoleAssignment.ReadWrite.All and Application.Read.All"
USER_READ = "User.Read.All"
GROUP_READ = "GroupMember.Read.All"
LOGS_READ = "AuditLog.Read.All (the tenant needs Entra ID P1 or P2)"

_SECRET_KEYS = {"SecretToken", "Password", "ClientSecret", "Oauth2ClientSecret"}
# Error-code identifiers syncfabric puts in a failed Test Connection's answer.
_TOKEN_CODES = re.compile(r"\b\w*(CredentialValidationFailure|Unauthorized)\b")
_ENDPOINT_CODES = re.compile(
    r"\b\w*(ServiceUnavailable|CredentialValidationUnavailable|Timeout)\b"
)


class Entra(ApplicationSteps):
    """Graph operations on one tenant; each method is one logical Graph step."""

    def __init__(self, client: GraphServiceClient, *, timings: Timings | None = None):
        super().__init__(client, timings=timings)
        self._role_ids: dict[str, str] = {}
        self._on_demand = RateLimiter(
            self.timings.on_demand_requests, self.timings.on_demand_window
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
                throttled=True,
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

    # -- credentials and secrets --------------------------------------------------

    async def validate_credentials(
        self,
        app: AppRef,
        job_id: str,
        base_address: str,
        token: str,
        *,
        renew: str | None = None,
    ) -> None:
        """Run Test Connection with BaseAddress and SecretToken (nothing saved).

        Raises TokenRejected, EndpointUnreachable or CredentialsRejected with the
        detail Graph gives; the token never appears in it. `renew` says how to
        replace a refused token (it depends on where the token comes from).
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
            raise _credentials_error(error, base_address, renew) from None
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
                    "filter": f"displayName eq {odata_literal(display_name)}",
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
            async with self._on_demand.slot():
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
                f"servicePrincipal/id eq {odata_literal(app.service_principal_id)} "
                f"and jobId eq {odata_literal(job_id)}"
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


def _is_scim(job: dict[str, Any]) -> bool:
    return job.get("templateId") == "scim" or str(job.get("id", "")).startswith("scim.")


def _credentials_error(
    error: GraphError, base_address: str, renew: str | None
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
            renew
            or (
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
