"""A small RFC 7644 SCIM server on loopback that records every request.

It plays the outside system the emulator provisions into: users in a dict, filters
`attr eq "value"`, PATCH in both of Entra's shapes (legacy string booleans, path-less
replace with dotted keys), 401 for a wrong bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_VALUE_PATH = re.compile(r'^(\w+)\[(\w+) eq "([^"]*)"\](?:\.(\w+))?$')


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None
    raw_query: str = ""


def _set(user: dict[str, Any], path: str, value: Any) -> None:
    container = user
    if path.lower().startswith("urn:"):
        schema, _, path = path.rpartition(":")
        container = user.setdefault(schema, {})
    if path == "active" and isinstance(value, str):
        value = value.lower() == "true"  # accept Entra's legacy "True"/"False"
    match = _VALUE_PATH.match(path)
    if match:
        attr, fattr, fval, sub = match.groups()
        items = container.setdefault(attr, [])
        element = next((i for i in items if i.get(fattr) == fval), None)
        if element is None:
            element = {fattr: fval}
            items.append(element)
        element[sub or "value"] = value
        return
    head, _, sub = path.partition(".")
    if sub:
        container.setdefault(head, {})[sub] = value
    else:
        container[head] = value


def _get(user: dict[str, Any], attribute: str) -> Any:
    head, _, sub = attribute.partition(".")
    value = next((v for k, v in user.items() if k.lower() == head.lower()), None)
    if sub and isinstance(value, dict):
        return value.get(sub)
    return value


@dataclass
class RecordingScim:
    """State and request log of the fake SCIM service."""

    token: str = "scim-token-1"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  # seconds each request takes, to observe concurrency
    in_flight: int = 0
    max_in_flight: int = 0
    fail_next: list[int | None] = field(default_factory=list)  # None: answer normally

    def reset(self) -> None:
        """Forget everything (the server keeps running)."""
        with self.lock:
            self.token = "scim-token-1"
            self.users.clear()
            self.groups.clear()
            self.requests.clear()
            self.fail_next.clear()
            self.delay = 0.0
            self.in_flight = self.max_in_flight = 0

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def by_user_name(self, user_name: str) -> dict[str, Any] | None:
        return next(
            (u for u in self.users.values() if u["userName"] == user_name), None
        )

    def app(self) -> Starlette:
        async def users(request: Request) -> Response:
            return await self.handle(request, "Users")

        async def groups(request: Request) -> Response:
            return await self.handle(request, "Groups")

        methods = ["GET", "POST", "PATCH", "DELETE", "PUT"]
        return Starlette(
            routes=[
                Route("/scim/Users", users, methods=methods),
                Route("/scim/Users/{id}", users, methods=methods),
                Route("/scim/Groups", groups, methods=methods),
                Route("/scim/Groups/{id}", groups, methods=methods),
            ]
        )

    async def handle(self, request: Request, resource: str) -> Response:
        body = await request.json() if await request.body() else None
        if self.delay:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            await asyncio.sleep(self.delay)
            self.in_flight -= 1
        record = Recorded(
            request.method,
            request.url.path,
            dict(request.query_params),
            body,
            request.headers.get("authorization"),
            request.url.query,
        )
        with self.lock:
            self.requests.append(record)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return self.error(401, "Bearer token rejected.")
            status = self.fail_next.pop(0) if self.fail_next else None
            if status is not None:
                return self.error(status, "Injected failure.")
            if resource == "Groups":
                return self.group_request(
                    request.method, request.path_params.get("id"), record
                )
            return self.user_request(
                request.method, request.path_params.get("id"), record
            )

    def user_request(
        self, method: str, user_id: str | None, record: Recorded
    ) -> Response:
        if method == "GET" and user_id is None:
            attribute, _, value = record.query.get("filter", "").partition(" eq ")
            value = value.strip('"')
            return self.list(
                [u for u in self.users.values() if str(_get(u, attribute)) == value]
            )
        if method == "POST":
            if self.by_user_name(record.body["userName"]):
                return self.error(409, "userName taken.", "uniqueness")
            user = {k: v for k, v in record.body.items() if k != "meta"}
            if isinstance(user.get("active"), str):
                user["active"] = user["active"].lower() == "true"
            user["id"] = str(uuid.uuid4())
            self.users[user["id"]] = user
            return JSONResponse(user, status_code=201)
        user = self.users.get(user_id or "")
        if user is None:
            return self.error(404, "No such user.")
        if method == "GET":
            return JSONResponse(user)
        if method == "DELETE":
            del self.users[user["id"]]
            return Response(status_code=204)
        for op in record.body["Operations"]:
            if "path" in op:
                _set(user, op["path"], op["value"])
            else:
                for key, value in op["value"].items():
                    _set(user, key, value)
        return JSONResponse(user)

    def group_request(
        self, method: str, group_id: str | None, record: Recorded
    ) -> Response:
        if method == "GET" and group_id is None:
            _, _, value = record.query.get("filter", "").partition(" eq ")
            hits = [
                g for g in self.groups.values() if g["displayName"] == value.strip('"')
            ]
            return self.list(
                [{k: v for k, v in g.items() if k != "members"} for g in hits]
            )
        if method == "POST":
            group = {**record.body, "id": str(uuid.uuid4())}
            self.groups[group["id"]] = group
            return JSONResponse(group, status_code=201)
        group = self.groups.get(group_id or "")
        if group is None:
            return self.error(404, "No such group.")
        if method == "DELETE":
            del self.groups[group["id"]]
            return Response(status_code=204)
        for op in record.body["Operations"]:
            ids = (
                {v["value"] for v in op.get("value") or []}
                if op["path"] == "members"
                else set()
            )
            if op["op"].lower() == "add":
                group["members"] += [{"value": v} for v in sorted(ids)]
            else:
                ids |= set(re.findall(r'members\[value eq "([^"]+)"\]', op["path"]))
                group["members"] = [
                    m for m in group["members"] if m["value"] not in ids
                ]
        return Response(status_code=204)

    def list(self, resources: list[dict[str, Any]]) -> JSONResponse:
        return JSONResponse(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": len(resources),
                "Resources": resources,
            }
        )

    def error(
        self, status: int, detail: str, scim_type: str | None = None
    ) -> JSONResponse:
        body: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": str(status),
            "detail": detail,
        }
        if scim_type:
            body["scimType"] = scim_type
        return JSONResponse(body, status_code=status)


@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in a thread; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
