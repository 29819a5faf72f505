"""Graph v1.0 routes for applications, service principals and app role assignments.

Shapes and codes follow graph.md sections 2, 3 and 9: instantiate answers 201 with
{application, servicePrincipal}; a duplicate assignment answers 400.
"""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

from starlette.responses import Response

from ._paging import (
    APPLICATION_FILTERS,
    ASSIGNMENT_FILTERS,
    SERVICE_PRINCIPAL_FILTERS,
    collection,
)
from .errors import GraphError
from .routing import Ctx, json_response, no_content, now_iso, route

logger = logging.getLogger(__name__)

NON_GALLERY_TEMPLATES = {
    "8adf8e6e-67b2-4cf2-a259-e3dc5476c621",  # global
    "4602d0b4-76bb-404b-bca9-2652e1a39c6d",  # US Government
    "5a532e38-1581-4918-9658-008dc27c1d68",  # China (21Vianet)
}
USER_ROLE_ID = "18d14569-c3bd-439b-9a66-3a2aee01d14f"
MSIAM_ROLE_ID = "b9632174-c057-4f7e-951b-be3adc52bfe6"
_SP_WRITABLE = {
    "accountEnabled", "appRoleAssignmentRequired", "description", "displayName",
    "homepage", "loginUrl", "notes", "notificationEmailAddresses",
    "preferredSingleSignOnMode", "tags",
}  # fmt: skip
_APP_WRITABLE = {
    "description", "displayName", "identifierUris", "notes",
    "serviceManagementReference",
    "signInAudience", "tags", "web",
}  # fmt: skip


def _app_roles() -> list[dict[str, Any]]:
    return [
        {
            "allowedMemberTypes": ["User"],
            "description": name,
            "displayName": name,
            "id": role_id,
            "isEnabled": True,
            "origin": "Application",
            "value": None,
        }
        for name, role_id in (("User", USER_ROLE_ID), ("msiam_access", MSIAM_ROLE_ID))
    ]


def _not_found(kind: str, ref: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{ref}' does not exist or one of its queried reference-property "
        f"objects are not present.",
    )


def service_principal(ctx: Ctx, sp_id: str) -> dict[str, Any]:
    """Return the SP, or raise 404 (also while replication delay hides it)."""
    emulator = ctx.emulator
    with emulator.lock:
        sp = emulator.service_principals.get(sp_id)
    if sp is None or emulator.faults.is_hidden(sp_id):
        raise _not_found("servicePrincipal", sp_id)
    return sp


def _application(ctx: Ctx, app_object_id: str) -> dict[str, Any]:
    with ctx.emulator.lock:
        app = ctx.emulator.applications.get(app_object_id)
    if app is None or ctx.emulator.faults.is_hidden(app_object_id):
        raise _not_found("application", app_object_id)
    return app


def _by_app_id(items: dict[str, dict[str, Any]], app_id: str) -> str:
    for object_id, item in items.items():
        if item["appId"] == app_id:
            return object_id
    raise _not_found("object", app_id)


@route("POST", "/applicationTemplates/{template_id}/instantiate")
async def instantiate(ctx: Ctx) -> Response:
    template_id = ctx.params["template_id"]
    if template_id not in NON_GALLERY_TEMPLATES:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Application template '{template_id}' is not known to the emulator "
            "(only the non-gallery 'Custom' templates are).",
        )
    body = await ctx.body()
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise GraphError(
            400, "Request_BadRequest", "displayName is required to instantiate."
        )

    now = now_iso()
    app_id = str(uuid.uuid4())
    app: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "appId": app_id,
        "applicationTemplateId": template_id,
        "appRoles": _app_roles(),
        "createdDateTime": now,
        "deletedDateTime": None,
        "description": None,
        "displayName": name,
        "identifierUris": [],
        "notes": None,
        "serviceManagementReference": body.get("serviceManagementReference"),
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "web": {"homePageUrl": None, "logoutUrl": None, "redirectUris": []},
    }
    sp: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "accountEnabled": True,
        "appDisplayName": name,
        "appId": app_id,
        "applicationTemplateId": template_id,
        "appOwnerOrganizationId": ctx.emulator.config.tenant_id,
        "appRoleAssignmentRequired": True,
        "appRoles": _app_roles(),
        "deletedDateTime": None,
        "description": None,
        "displayName": name,
        "homepage": None,
        "loginUrl": None,
        "notes": None,
        "notificationEmailAddresses": [],
        "preferredSingleSignOnMode": None,
        "servicePrincipalNames": [app_id],
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMyOrg",
        "tags": [
            "WindowsAzureActiveDirectoryCustomSingleSignOnApplication",
            "WindowsAzureActiveDirectoryIntegratedApp",
        ],
    }
    with ctx.emulator.lock:
        ctx.emulator.applications[app["id"]] = app
        ctx.emulator.service_principals[sp["id"]] = sp
    ctx.created(app["id"])
    ctx.created(sp["id"])
    logger.info("instantiated application %s (service principal %s)", name, sp["id"])
    return json_response({"application": app, "servicePrincipal": sp}, status=201)


# -- applications -------------------------------------------------------------------


@route("GET", "/applications")
async def list_applications(ctx: Ctx) -> Response:
    with ctx.emulator.lock:
        items = list(ctx.emulator.applications.values())
    return collection(ctx, items, filterable=APPLICATION_FILTERS)


@route("GET", "/applications/{app}")
async def get_application(ctx: Ctx) -> Response:
    return json_response(_select(ctx, _application(ctx, ctx.params["app"])))


@route("GET", "/applications(appId='{app_id}')")
async def get_application_by_app_id(ctx: Ctx) -> Response:
    with ctx.emulator.lock:
        object_id = _by_app_id(ctx.emulator.applications, ctx.params["app_id"])
    return json_response(_select(ctx, _application(ctx, object_id)))


@route("PATCH", "/applications/{app}")
async def patch_application(ctx: Ctx) -> Response:
    app = _application(ctx, ctx.params["app"])
    changes = _writable(await ctx.body(), _APP_WRITABLE, "application")
    with ctx.emulator.lock:
        app.update(changes)
    return no_content()


@route("DELETE", "/applications/{app}")
async def delete_application(ctx: Ctx) -> Response:
    app = _application(ctx, ctx.params["app"])
    emulator = ctx.emulator
    with emulator.lock:
        del emulator.applications[app["id"]]
        for sp_id in [
            s
            for s, v in emulator.service_principals.items()
            if v["appId"] == app["appId"]
        ]:
            _delete_service_principal(ctx, sp_id)
    logger.info("deleted application %s", app["id"])
    return no_content()


# -- service principals -------------------------------------------------------------


@route("GET", "/servicePrincipals")
async def list_service_principals(ctx: Ctx) -> Response:
    with ctx.emulator.lock:
        items = list(ctx.emulator.service_principals.values())
    return collection(ctx, items, filterable=SERVICE_PRINCIPAL_FILTERS)


@route("GET", "/servicePrincipals/{sp}")
async def get_service_principal(ctx: Ctx) -> Response:
    return json_response(_select(ctx, service_principal(ctx, ctx.params["sp"])))


@route("GET", "/servicePrincipals(appId='{app_id}')")
async def get_service_principal_by_app_id(ctx: Ctx) -> Response:
    with ctx.emulator.lock:
        object_id = _by_app_id(ctx.emulator.service_principals, ctx.params["app_id"])
    return json_response(_select(ctx, service_principal(ctx, object_id)))


@route("PATCH", "/servicePrincipals/{sp}")
async def patch_service_principal(ctx: Ctx) -> Response:
    sp = service_principal(ctx, ctx.params["sp"])
    changes = _writable(await ctx.body(), _SP_WRITABLE, "servicePrincipal")
    with ctx.emulator.lock:
        sp.update(changes)
    return no_content()


@route("DELETE", "/servicePrincipals/{sp}")
async def delete_service_principal(ctx: Ctx) -> Response:
    sp = service_principal(ctx, ctx.params["sp"])
    with ctx.emulator.lock:
        _delete_service_principal(ctx, sp["id"])
    return no_content()


def _delete_service_principal(ctx: Ctx, sp_id: str) -> None:
    emulator = ctx.emulator
    emulator.service_principals.pop(sp_id, None)
    emulator.secrets.pop(sp_id, None)
    for job_id in [j for j, job in emulator.jobs.items() if job.sp_id == sp_id]:
        del emulator.jobs[job_id]
    for aid in [a for a, v in emulator.assignments.items() if v["resourceId"] == sp_id]:
        del emulator.assignments[aid]
    logger.info("deleted service principal %s", sp_id)


def _select(ctx: Ctx, item: dict[str, Any]) -> dict[str, Any]:
    select = ctx.query("select")
    if not select:
        return item
    wanted = {s.strip() for s in select.split(",")}
    return {k: v for k, v in item.items() if k in wanted}


def _writable(body: dict[str, Any], allowed: set[str], kind: str) -> dict[str, Any]:
    changes = {k: v for k, v in body.items() if not k.startswith("@odata")}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Property '{unknown[0]}' does not exist or cannot be updated on type "
            f"'microsoft.graph.{kind}' in the emulator.",
        )
    return changes


# -- app role assignments -----------------------------------------------------------


def _assignment_id(principal_id: str) -> str:
    raw = uuid.UUID(principal_id).bytes + uuid.uuid4().bytes[:16]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def create_assignment(ctx: Ctx, sp_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate and store an appRoleAssignment; 400 on duplicates like Graph."""
    sp = service_principal(ctx, sp_id)
    principal_id = str(body.get("principalId") or "")
    role_id = str(body.get("appRoleId") or "")
    resource_id = str(body.get("resourceId") or sp_id)
    if resource_id != sp_id:
        raise GraphError(
            400, "Request_BadRequest", "resourceId must be the service principal."
        )
    role_ids = {r["id"] for r in sp["appRoles"] if r.get("isEnabled", True)}
    if role_id not in role_ids:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Permission being assigned was not found on application '{sp['appId']}'.",
        )

    emulator = ctx.emulator
    with emulator.lock:
        user = emulator.directory.users.get(principal_id)
        group = emulator.directory.groups.get(principal_id)
        if (user is None or user.soft_deleted) and group is None:
            raise _not_found("principal", principal_id)
        for existing in emulator.assignments.values():
            if (
                existing["principalId"],
                existing["resourceId"],
                existing["appRoleId"],
            ) == (
                principal_id,
                sp_id,
                role_id,
            ):
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    "Permission being assigned already exists on the object.",
                )
        assignment = {
            "id": _assignment_id(principal_id),
            "appRoleId": role_id,
            "createdDateTime": now_iso(),
            "deletedDateTime": None,
            "principalDisplayName": user.properties.get("displayName")
            if user
            else group.display_name
            if group
            else None,
            "principalId": principal_id,
            "principalType": "User" if user else "Group",
            "resourceDisplayName": sp["displayName"],
            "resourceId": sp_id,
        }
        emulator.assignments[assignment["id"]] = assignment
    ctx.created(assignment["id"])
    logger.info("assigned %s to service principal %s", principal_id, sp_id)
    return assignment


def _assignments(ctx: Ctx, key: str, value: str) -> list[dict[str, Any]]:
    with ctx.emulator.lock:
        return [dict(a) for a in ctx.emulator.assignments.values() if a[key] == value]


@route("GET", "/servicePrincipals/{sp}/appRoleAssignedTo")
async def list_assigned_to(ctx: Ctx) -> Response:
    service_principal(ctx, ctx.params["sp"])
    items = _assignments(ctx, "resourceId", ctx.params["sp"])
    return collection(ctx, items, filterable=ASSIGNMENT_FILTERS)


@route("POST", "/servicePrincipals/{sp}/appRoleAssignedTo")
async def post_assigned_to(ctx: Ctx) -> Response:
    return json_response(
        create_assignment(ctx, ctx.params["sp"], await ctx.body()), 201
    )


@route("GET", "/servicePrincipals/{sp}/appRoleAssignedTo/{aid}")
async def get_assigned_to(ctx: Ctx) -> Response:
    return json_response(_one_assignment(ctx, ctx.params["aid"], ctx.params["sp"]))


@route("DELETE", "/servicePrincipals/{sp}/appRoleAssignedTo/{aid}")
async def delete_assigned_to(ctx: Ctx) -> Response:
    return _delete_assignment(ctx, ctx.params["aid"], "resourceId", ctx.params["sp"])


def _one_assignment(ctx: Ctx, aid: str, sp_id: str) -> dict[str, Any]:
    service_principal(ctx, sp_id)
    with ctx.emulator.lock:
        found = ctx.emulator.assignments.get(aid)
    if (
        found is None
        or found["resourceId"] != sp_id
        or ctx.emulator.faults.is_hidden(aid)
    ):
        raise _not_found("appRoleAssignment", aid)
    return dict(found)


def _delete_assignment(ctx: Ctx, aid: str, key: str, value: str) -> Response:
    with ctx.emulator.lock:
        found = ctx.emulator.assignments.get(aid)
        if found is None or found[key] != value:
            raise _not_found("appRoleAssignment", aid)
        del ctx.emulator.assignments[aid]
    logger.info("removed app role assignment %s", aid)
    return no_content()
