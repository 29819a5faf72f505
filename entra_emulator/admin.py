"""The emulator's own admin API under /_emulator: play the tenant admin, inject faults,
run a provisioning cycle, read state. JSON in, JSON out; errors as {"error": "..."}.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import AdminRequestInvalid, NotFound

if TYPE_CHECKING:
    from .server import Emulator

Endpoint = Callable[[Request], Awaitable[Response]]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise AdminRequestInvalid(f"Body is not JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise AdminRequestInvalid("Body must be a JSON object.")
    return data


def _guard(handler: Callable[[Request], Awaitable[Any]], status: int = 200) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except AdminRequestInvalid as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except NotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result, status_code=status)

    return endpoint


def admin_routes(emulator: Emulator) -> list[Route]:
    """Return the Starlette routes of the admin API for one emulator."""

    async def state(request: Request) -> Any:
        return emulator.state()

    async def reset(request: Request) -> Any:
        emulator.reset(keep_directory=bool((await _body(request)).get("keepDirectory")))

    async def writes(request: Request) -> Any:
        return emulator.writes()

    async def reset_writes(request: Request) -> Any:
        emulator.reset_writes()

    async def requests(request: Request) -> Any:
        with emulator.lock:
            return dict(emulator.request_counts)

    async def list_users(request: Request) -> Any:
        with emulator.lock:
            return {
                "value": [u.admin_json() for u in emulator.directory.users.values()]
            }

    async def add_user(request: Request) -> Any:
        return emulator.add_user(**await _body(request))

    async def get_user(request: Request) -> Any:
        return emulator.user(request.path_params["ref"]).admin_json()

    async def patch_user(request: Request) -> Any:
        return emulator.update_user(request.path_params["ref"], **await _body(request))

    async def delete_user(request: Request) -> Any:
        return emulator.hard_delete_user(request.path_params["ref"])

    actions: dict[str, Callable[[str], dict[str, Any]]] = {
        "disable": emulator.disable_user,
        "enable": emulator.enable_user,
        "soft-delete": emulator.soft_delete_user,
        "restore": emulator.restore_user,
        "hard-delete": emulator.hard_delete_user,
    }

    async def user_action(request: Request) -> Any:
        action = actions.get(request.path_params["action"])
        if action is None:
            raise AdminRequestInvalid(f"User actions: {', '.join(actions)}.")
        return action(request.path_params["ref"])

    async def list_groups(request: Request) -> Any:
        with emulator.lock:
            return {
                "value": [g.admin_json() for g in emulator.directory.groups.values()]
            }

    async def add_group(request: Request) -> Any:
        body = await _body(request)
        members = body.get("members") or []
        if not isinstance(members, list):
            raise AdminRequestInvalid(
                "members must be a list of user or group references."
            )
        return emulator.add_group(
            str(body.get("displayName") or ""), [str(m) for m in members]
        )

    async def get_group(request: Request) -> Any:
        return emulator.group(request.path_params["ref"]).admin_json()

    async def delete_group(request: Request) -> Any:
        return emulator.delete_group(request.path_params["ref"])

    async def add_member(request: Request) -> Any:
        member = (await _body(request)).get("member")
        if not isinstance(member, str):
            raise AdminRequestInvalid(
                'Send {"member": "<user id, UPN, group id or name>"}.'
            )
        return emulator.add_member(request.path_params["ref"], member)

    async def remove_member(request: Request) -> Any:
        return emulator.remove_member(
            request.path_params["ref"], request.path_params["member"]
        )

    async def list_faults(request: Request) -> Any:
        return {"value": [f.to_json() for f in emulator.faults.rules]}

    async def add_fault(request: Request) -> Any:
        return emulator.add_fault(**await _body(request))

    async def clear_faults(request: Request) -> Any:
        emulator.clear_faults()

    async def remove_fault(request: Request) -> Any:
        raw = request.path_params["fault_id"]
        if not raw.isdigit() or not emulator.faults.remove(int(raw)):
            raise NotFound(f"No fault rule {raw}.")

    async def list_jobs(request: Request) -> Any:
        with emulator.lock:
            return {
                "value": [
                    {**job.to_json(), "servicePrincipalId": job.sp_id}
                    for job in emulator.jobs.values()
                ]
            }

    async def cycle(request: Request) -> Any:
        return await emulator.run_cycle(request.path_params["job_id"])

    async def health(request: Request) -> Any:
        return {"status": "ok"}

    prefix = "/_emulator"
    table: list[tuple[str, str, Callable[[Request], Awaitable[Any]], int]] = [
        ("GET", "/health", health, 200),
        ("GET", "/state", state, 200),
        ("POST", "/reset", reset, 200),
        ("GET", "/writes", writes, 200),
        ("POST", "/writes/reset", reset_writes, 200),
        ("GET", "/requests", requests, 200),
        ("GET", "/users", list_users, 200),
        ("POST", "/users", add_user, 201),
        ("GET", "/users/{ref}", get_user, 200),
        ("PATCH", "/users/{ref}", patch_user, 200),
        ("DELETE", "/users/{ref}", delete_user, 200),
        ("POST", "/users/{ref}/{action}", user_action, 200),
        ("GET", "/groups", list_groups, 200),
        ("POST", "/groups", add_group, 201),
        ("GET", "/groups/{ref}", get_group, 200),
        ("DELETE", "/groups/{ref}", delete_group, 200),
        ("POST", "/groups/{ref}/members", add_member, 200),
        ("DELETE", "/groups/{ref}/members/{member}", remove_member, 200),
        ("GET", "/faults", list_faults, 200),
        ("POST", "/faults", add_fault, 201),
        ("DELETE", "/faults", clear_faults, 200),
        ("DELETE", "/faults/{fault_id}", remove_fault, 200),
        ("GET", "/jobs", list_jobs, 200),
        ("POST", "/jobs/{job_id}/cycle", cycle, 200),
    ]
    return [
        Route(prefix + path, _guard(handler, status), methods=[method])
        for method, path, handler, status in table
    ]
