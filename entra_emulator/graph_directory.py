"""Graph v1.0 routes for directory users and groups (read-only, as the toolkit needs).

Without $select Graph returns only its default user property set; soft-deleted users
are invisible under /users (they live in the recycle bin).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ._paging import ASSIGNMENT_FILTERS, GROUP_FILTERS, USER_FILTERS, collection
from .directory import DEFAULT_USER_SELECT, Group, User
from .errors import GraphError
from .graph_apps import create_assignment
from .routing import Ctx, json_response, no_content, route


def _user_default(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in item.items() if k in DEFAULT_USER_SELECT or k.startswith("@")
    }


def _user(ctx: Ctx, ref: str) -> User:
    with ctx.emulator.lock:
        user = ctx.emulator.directory.users.get(ref)
        if user is None and "@" in ref:
            user = ctx.emulator.directory.find_user_by_upn(ref)
    if user is None or user.soft_deleted:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{ref}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )
    return user


def _group(ctx: Ctx, ref: str) -> Group:
    with ctx.emulator.lock:
        group = ctx.emulator.directory.groups.get(ref)
    if group is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{ref}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )
    return group


def _shaped_user(ctx: Ctx, user: User) -> dict[str, Any]:
    body = user.graph_json()
    select = ctx.query("select")
    if select:
        wanted = {s.strip() for s in select.split(",")}
        return {k: v for k, v in body.items() if k in wanted}
    return _user_default(body)


@route("GET", "/users")
async def list_users(ctx: Ctx) -> Response:
    with ctx.emulator.lock:
        users = [
            u.graph_json()
            for u in ctx.emulator.directory.users.values()
            if not u.soft_deleted
        ]
    return collection(ctx, users, shape=_user_default, filterable=USER_FILTERS)


@route("GET", "/users/{user}")
async def get_user(ctx: Ctx) -> Response:
    return json_response(_shaped_user(ctx, _user(ctx, ctx.params["user"])))


@route("GET", "/groups")
async def list_groups(ctx: Ctx) -> Response:
    with ctx.emulator.lock:
        groups = [g.graph_json() for g in ctx.emulator.directory.groups.values()]
    return collection(ctx, groups, filterable=GROUP_FILTERS)


@route("GET", "/groups/{group}")
async def get_group(ctx: Ctx) -> Response:
    body = _group(ctx, ctx.params["group"]).graph_json()
    select = ctx.query("select")
    if select:
        wanted = {s.strip() for s in select.split(",")}
        body = {k: v for k, v in body.items() if k in wanted}
    return json_response(body)


@route("GET", "/groups/{group}/members")
async def list_members(ctx: Ctx) -> Response:
    group = _group(ctx, ctx.params["group"])
    directory = ctx.emulator.directory
    members: list[dict[str, Any]] = []
    with ctx.emulator.lock:
        for member_id in group.members:
            if (user := directory.users.get(member_id)) and not user.soft_deleted:
                members.append(
                    {"@odata.type": "#microsoft.graph.user", **user.graph_json()}
                )
            elif nested := directory.groups.get(member_id):
                members.append(
                    {"@odata.type": "#microsoft.graph.group", **nested.graph_json()}
                )
    return collection(ctx, members, shape=_user_default)


def _principal_assignments(ctx: Ctx, principal_id: str) -> Response:
    with ctx.emulator.lock:
        items = [
            dict(a)
            for a in ctx.emulator.assignments.values()
            if a["principalId"] == principal_id
        ]
    return collection(ctx, items, filterable=ASSIGNMENT_FILTERS)


@route("GET", "/users/{user}/appRoleAssignments")
async def user_assignments(ctx: Ctx) -> Response:
    return _principal_assignments(ctx, _user(ctx, ctx.params["user"]).id)


@route("GET", "/groups/{group}/appRoleAssignments")
async def group_assignments(ctx: Ctx) -> Response:
    return _principal_assignments(ctx, _group(ctx, ctx.params["group"]).id)


async def _post_principal_assignment(ctx: Ctx, principal_id: str) -> Response:
    body = await ctx.body()
    if str(body.get("principalId") or principal_id) != principal_id:
        raise GraphError(400, "Request_BadRequest", "principalId must match the URL.")
    body["principalId"] = principal_id
    sp_id = str(body.get("resourceId") or "")
    return json_response(create_assignment(ctx, sp_id, body), 201)


@route("POST", "/users/{user}/appRoleAssignments")
async def post_user_assignment(ctx: Ctx) -> Response:
    return await _post_principal_assignment(ctx, _user(ctx, ctx.params["user"]).id)


@route("POST", "/groups/{group}/appRoleAssignments")
async def post_group_assignment(ctx: Ctx) -> Response:
    return await _post_principal_assignment(ctx, _group(ctx, ctx.params["group"]).id)


@route("DELETE", "/users/{user}/appRoleAssignments/{aid}")
async def delete_user_assignment(ctx: Ctx) -> Response:
    user = _user(ctx, ctx.params["user"])
    with ctx.emulator.lock:
        found = ctx.emulator.assignments.get(ctx.params["aid"])
        if found is None or found["principalId"] != user.id:
            raise GraphError(
                404, "Request_ResourceNotFound", "No such app role assignment."
            )
        del ctx.emulator.assignments[ctx.params["aid"]]
    return no_content()
