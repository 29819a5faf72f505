"""Collection answers: $filter, $select, $top, @odata.nextLink paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse

from .errors import GraphError
from .odata import apply_select, parse_filter
from .routing import Ctx, json_response


def _int_option(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.query(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for ${name}.")
    return int(raw)


def collection(
    ctx: Ctx,
    items: list[dict[str, Any]],
    *,
    default_top: int = 100,
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    filterable: frozenset[str] | None = None,
) -> JSONResponse:
    """Filter, page and select a list of Graph objects into a collection response."""
    text = ctx.query("filter")
    if text:
        predicate = parse_filter(text, filterable)
        items = [item for item in items if predicate(item)]

    top = min(_int_option(ctx, "top", default_top), 999) or default_top
    skip = _int_option(ctx, "skiptoken", 0)
    chunk = items[skip : skip + top]
    select = ctx.query("select")
    value = [
        apply_select(shape(i) if shape and not select else i, select) for i in chunk
    ]

    body: dict[str, Any] = {"value": value}
    if skip + top < len(items):
        url = ctx.request.url.remove_query_params(
            ["$skiptoken", "%24skiptoken", "skiptoken"]
        )
        body["@odata.nextLink"] = str(
            url.include_query_params(**{"$skiptoken": skip + top})
        )
    return json_response(body)


# Properties Graph v1.0 documents as supporting $filter, per collection.
SERVICE_PRINCIPAL_FILTERS = frozenset(
    [
        "id",
        "appId",
        "displayName",
        "tags",
        "applicationTemplateId",
        "servicePrincipalNames",
        "accountEnabled",
        "appOwnerOrganizationId",
        "servicePrincipalType",
        "preferredSingleSignOnMode",
        "description",
    ]
)
APPLICATION_FILTERS = frozenset(
    [
        "id",
        "appId",
        "displayName",
        "tags",
        "applicationTemplateId",
        "identifierUris",
        "signInAudience",
        "createdDateTime",
        "publisherDomain",
        "description",
        "serviceManagementReference",
    ]
)
USER_FILTERS = frozenset(
    [
        "id",
        "userPrincipalName",
        "displayName",
        "givenName",
        "surname",
        "mail",
        "mailNickname",
        "accountEnabled",
        "department",
        "jobTitle",
        "employeeId",
        "city",
        "country",
        "state",
        "companyName",
        "officeLocation",
        "preferredLanguage",
    ]
)
GROUP_FILTERS = frozenset(
    [
        "id",
        "displayName",
        "mailNickname",
        "mail",
        "mailEnabled",
        "securityEnabled",
        "groupTypes",
        "description",
    ]
)
ASSIGNMENT_FILTERS = frozenset(["resourceId", "principalId", "appRoleId"])
LOG_FILTERS = frozenset(
    [
        "id",
        "activityDateTime",
        "tenantId",
        "jobId",
        "changeId",
        "cycleId",
        "provisioningAction",
        "durationInMilliseconds",
        "provisioningStatusInfo/status",
        "sourceSystem/displayName",
        "targetSystem/displayName",
        "sourceIdentity/identityType",
        "sourceIdentity/id",
        "sourceIdentity/displayName",
        "targetIdentity/identityType",
        "targetIdentity/id",
        "targetIdentity/displayName",
        "servicePrincipal/id",
        "servicePrincipal/name",
        "initiatedBy/displayName",
    ]
)
