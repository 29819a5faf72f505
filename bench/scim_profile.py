"""In-process profile of the Entra flow through the SCIM handlers (no HTTP).

Calls `ScimHandlers.handle` directly (GET miss, POST, GET hit, PATCH active,
PATCH displayName per user) on a fresh SQLite file and prints CPU per request
and, with --profile, the cProfile top entries by cumulative and own time.

    .venv/bin/python bench/scim_profile.py --users 2000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
import uuid
from pathlib import Path

from scim_service.api._handlers import ScimHandlers
from scim_service.api._request import ScimRequest
from scim_service.settings import Settings
from scim_service.storage import Actor, Store

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def request(
    method: str, path: list[str], token: str, query: dict[str, str], body: object
) -> ScimRequest:
    return ScimRequest(
        method=method,
        endpoint=path[0],
        rest=path[1:],
        organisation=None,
        query=query,
        authorization=f"Bearer {token}",
        content_type="application/scim+json",
        body=json.dumps(body).encode() if body is not None else b"",
        base_url="http://127.0.0.1:8080/scim/v2",
        request_id=uuid.uuid4().hex,
    )


def flow(handlers: ScimHandlers, token: str, k: int) -> None:
    name = f"user{k}@example.org"
    find = {"filter": f'userName eq "{name}"'}
    assert handlers.handle(request("GET", ["Users"], token, find, None)).status == 200
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": str(uuid.uuid4()),
        "userName": name,
        "active": True,
        "displayName": "Ada Lovelace",
        "emails": [{"primary": True, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "Ada Lovelace",
            "familyName": "Lovelace",
            "givenName": "Ada",
        },
        "roles": [],
        ENTERPRISE: {"department": "Engineering"},
    }
    created = handlers.handle(request("POST", ["Users"], token, {}, body))
    assert created.status == 201, created.body
    rid = json.loads(created.body)["id"]
    assert handlers.handle(request("GET", ["Users"], token, find, None)).status == 200
    for path, value in (("active", False), ("displayName", f"Renamed {k}")):
        patch = {
            "schemas": [PATCH],
            "Operations": [{"op": "Replace", "path": path, "value": value}],
        }
        answer = handlers.handle(request("PATCH", ["Users", rid], token, {}, patch))
        assert answer.status == 200, answer.body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="scim-profile-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'p.db'}"
        store = Store.open(url)
        store.migrate()
        actor = Actor(kind="cli")
        slug = f"p{uuid.uuid4().hex[:8]}"
        store.create_organisation(slug=slug, display_name="P", actor=actor)
        token = store.issue_token(slug, actor=actor).secret
        handlers = ScimHandlers(store, Settings(database_url=url))
        for k in range(200):
            flow(handlers, token, -k - 1)

        profiler = cProfile.Profile() if args.profile else None
        t0 = time.process_time()
        if profiler:
            profiler.enable()
        for k in range(args.users):
            flow(handlers, token, k)
        if profiler:
            profiler.disable()
        cpu = time.process_time() - t0
        print(
            f"{args.users * 5} requests, {1000 * cpu / (args.users * 5):.3f} ms CPU "
            "per request" + (" (profiled)" if profiler else "")
        )
        store.close()
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
