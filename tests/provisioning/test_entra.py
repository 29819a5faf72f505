"""Tests of provisioning.entra against the Entra emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from entra_emulator.server import Emulator
from provisioning.entra import CUSTOM_APP_TEMPLATE, AppRef, Entra, Timings, marker
from provisioning.errors import (
    AmbiguousApplication,
    EndpointUnreachable,
    GraphPermissionDenied,
    GraphUnavailable,
    TokenRejected,
)
from provisioning.graph import GraphConfig, open_client, patch_json, post_json
from provisioning.mappings import desired_schema, schema_drift
from provisioning.spec import ProvisioningSettings

FAST = Timings(
    attempts=6,
    first_delay=0.02,
    max_delay=0.1,
    visible_reads=2,
    read_interval=0.01,
)
SCIM_TOKEN = "prompt-scim-token-0123456789abcdef"
NAME = "Prompt (Acme Health)"
SEED = {
    "users": [
        {"userPrincipalName": "alice@acme.example", "displayName": "Alice Example"},
        {"userPrincipalName": "bob@acme.example", "displayName": "Bob Example"},
        {"userPrincipalName": "carol@acme.example", "displayName": "Carol Example"},
    ],
    "groups": [{"displayName": "Prompt Users", "members": ["alice@acme.example"]}],
}


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str]]:
    emu = Emulator(seed=SEED)
    with emu.serve_in_thread() as base:
        yield emu, f"{base}/v1.0"


Scenario = Callable[[Entra], Awaitable[Any]]


def run(base: str, scenario: Scenario, timings: Timings = FAST) -> Any:
    async def main() -> Any:
        settings = GraphConfig(base_url=base, credential="anonymous", retry_delay=0.0)
        async with open_client(settings) as client:
            return await scenario(Entra(client, timings=timings))

    return asyncio.run(main())


class _ScimStub(BaseHTTPRequestHandler):
    """A SCIM endpoint that accepts one bearer token and lists no users."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {SCIM_TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0,
                "startIndex": 1,
                "itemsPerPage": 0,
                "Resources": [],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def scim_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScimStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/scim/v2"
    server.shutdown()
    server.server_close()


def test_create_app_tags_it_and_find_app_finds_it(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator

    async def scenario(entra: Entra) -> tuple[AppRef | None, AppRef, AppRef | None]:
        before = await entra.find_app("acme")
        app = await entra.create_app("acme", NAME)
        return before, app, await entra.find_app("acme")

    before, app, found = run(base, scenario)

    assert before is None
    assert found == app
    sp = emu.service_principals[app.service_principal_id]
    assert marker("acme") in sp["tags"]
    assert "WindowsAzureActiveDirectoryIntegratedApp" in sp["tags"]
    assert sp["applicationTemplateId"] == CUSTOM_APP_TEMPLATE
    assert marker("acme") in emu.applications[app.application_object_id]["tags"]


def test_find_app_uses_the_marker_not_the_display_name(
    emulator: tuple[Emulator, str],
) -> None:
    _, base = emulator

    async def scenario(entra: Entra) -> tuple[AppRef, AppRef | None, AppRef | None]:
        app = await entra.create_app("acme", NAME)
        sp = entra.client.service_principals.by_service_principal_id(
            app.service_principal_id
        )
        await patch_json(sp, {"displayName": "Renamed by hand"})
        template = entra.client.application_templates.by_application_template_id(
            CUSTOM_APP_TEMPLATE
        )
        await post_json(template.instantiate, {"displayName": NAME})
        return app, await entra.find_app("acme"), await entra.find_app("other")

    app, found, other = run(base, scenario)

    assert found is not None
    assert found.service_principal_id == app.service_principal_id
    assert other is None


def test_two_tagged_apps_are_reported_as_ambiguous(
    emulator: tuple[Emulator, str],
) -> None:
    _, base = emulator

    async def scenario(entra: Entra) -> None:
        first = await entra.create_app("acme", NAME)
        second = await entra.create_app("beta", "Prompt (Beta)")
        sp = entra.client.service_principals.by_service_principal_id(
            second.service_principal_id
        )
        await patch_json(sp, {"tags": [marker("beta"), marker("acme")]})
        assert first != second
        await entra.find_app("acme")

    with pytest.raises(AmbiguousApplication, match="2 service principals carry"):
        run(base, scenario)


def test_create_app_adopts_the_orphan_of_an_interrupted_run(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator

    async def scenario(entra: Entra) -> tuple[dict[str, Any] | None, AppRef]:
        # The previous run died right after instantiate, before tagging.
        template = entra.client.application_templates.by_application_template_id(
            CUSTOM_APP_TEMPLATE
        )
        orphan = await post_json(template.instantiate, {"displayName": NAME})
        return orphan, await entra.create_app("acme", NAME)

    orphan, app = run(base, scenario)

    assert orphan is not None
    assert len(emu.applications) == 1
    assert app.service_principal_id == orphan["servicePrincipal"]["id"]
    assert marker("acme") in emu.service_principals[app.service_principal_id]["tags"]


def test_an_untagged_app_with_a_job_is_not_adopted(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator

    async def scenario(entra: Entra) -> tuple[str, AppRef]:
        template = entra.client.application_templates.by_application_template_id(
            CUSTOM_APP_TEMPLATE
        )
        other = await post_json(template.instantiate, {"displayName": NAME})
        assert other is not None
        other_sp = str(other["servicePrincipal"]["id"])
        jobs = entra.client.service_principals.by_service_principal_id(
            other_sp
        ).synchronization.jobs
        await post_json(jobs, {"templateId": "scim"})
        return other_sp, await entra.create_app("acme", NAME)

    other_sp, app = run(base, scenario)

    assert app.service_principal_id != other_sp
    assert len(emu.applications) == 2


def test_replication_delay_is_waited_out_without_a_second_app(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator
    emu.add_fault(
        kind="replication",
        method="POST",
        path="/applicationTemplates/*/instantiate",
        requests=3,
    )

    async def scenario(entra: Entra) -> tuple[AppRef, dict[str, Any]]:
        app = await entra.create_app("acme", NAME)
        return app, await entra.create_job(app)

    app, job = run(base, scenario)

    assert len(emu.applications) == 1
    assert marker("acme") in emu.service_principals[app.service_principal_id]["tags"]
    assert job["templateId"] == "scim"


def test_transient_403_and_409_after_creation_are_retried(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator
    jobs_path = "/servicePrincipals/*/synchronization/jobs"
    emu.add_fault(kind="status", method="POST", path=jobs_path, status=403, count=1)
    emu.add_fault(kind="status", method="POST", path=jobs_path, status=409, count=1)

    async def scenario(entra: Entra) -> dict[str, Any]:
        app = await entra.create_app("acme", NAME)
        return await entra.create_job(app)

    job = run(base, scenario)

    assert job["id"].startswith("scim.")
    assert len(emu.jobs) == 1


def test_403_on_an_old_object_names_the_permission_at_once(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator
    run(base, lambda entra: entra.create_app("acme", NAME))
    emu.add_fault(
        kind="status",
        method="POST",
        path="/servicePrincipals/*/synchronization/jobs",
        status=403,
        count=1,
    )

    async def scenario(entra: Entra) -> None:
        app = await entra.find_app("acme")
        assert app is not None
        await entra.create_job(app)

    started = time.monotonic()
    with pytest.raises(
        GraphPermissionDenied, match=r"grant Synchronization\.ReadWrite\.All"
    ):
        run(base, scenario, Timings(attempts=6, first_delay=5.0))
    assert time.monotonic() - started < 4
    assert len(emu.jobs) == 0


def test_instantiate_is_not_retried_blindly_on_503(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator
    emu.add_fault(
        kind="status",
        method="POST",
        path="/applicationTemplates/*/instantiate",
        status=503,
        count=1,
    )

    with pytest.raises(GraphUnavailable, match="run again later"):
        run(base, lambda entra: entra.create_app("acme", NAME))
    assert len(emu.applications) == 0

    app = run(base, lambda entra: entra.create_app("acme", NAME))
    assert list(emu.applications) == [app.application_object_id]


def test_throttled_instantiate_is_resent_after_retry_after(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator
    emu.add_fault(
        kind="status",
        method="POST",
        path="/applicationTemplates/*/instantiate",
        status=429,
        count=1,
        retry_after=1,
    )

    started = time.monotonic()
    app = run(base, lambda entra: entra.create_app("acme", NAME))

    assert time.monotonic() - started >= 1.0
    assert list(emu.applications) == [app.application_object_id]


def test_429_with_retry_after_is_survived(emulator: tuple[Emulator, str]) -> None:
    emu, base = emulator
    emu.add_fault(
        kind="status",
        method="GET",
        path="/servicePrincipals",
        status=429,
        count=1,
        retry_after=1,
    )

    started = time.monotonic()
    found = run(base, lambda entra: entra.find_app("acme"))

    assert found is None
    assert time.monotonic() - started >= 1.0


def test_job_secrets_schema_and_start(
    emulator: tuple[Emulator, str], scim_url: str
) -> None:
    emu, base = emulator
    settings = ProvisioningSettings()

    async def scenario(entra: Entra) -> dict[str, Any]:
        app = await entra.create_app("acme", NAME)
        job = await entra.create_job(app)
        again = await entra.create_job(app)
        await entra.validate_credentials(app, job["id"], scim_url, SCIM_TOKEN)
        await entra.put_secrets(
            app,
            base_address=scim_url,
            token=SCIM_TOKEN,
            sync_all=False,
            notification_email="it-ops@acme.example",
        )
        schema = await entra.get_schema(app, job["id"])
        await entra.put_schema(app, job["id"], desired_schema(schema, settings))
        await entra.start_job(app, job["id"])
        return {
            "job": job,
            "again": again,
            "secrets": await entra.get_secrets(app),
            "schema": await entra.get_schema(app, job["id"]),
            "started": await entra.get_job(app),
        }

    seen = run(base, scenario)

    assert seen["job"]["schedule"]["state"] == "Disabled"
    assert seen["again"]["id"] == seen["job"]["id"]
    assert len(emu.jobs) == 1
    assert seen["secrets"]["SecretToken"] == "*"
    assert seen["secrets"]["BaseAddress"] == scim_url
    assert seen["secrets"]["SyncAll"] == "false"
    assert json.loads(seen["secrets"]["SyncNotificationSettings"]) == {
        "Enabled": True,
        "Recipients": "it-ops@acme.example",
    }
    assert schema_drift(seen["schema"], settings) == []
    flow_types = [
        om.get("flowTypes")
        for rule in seen["schema"]["synchronizationRules"]
        for om in rule["objectMappings"]
    ]
    assert all(isinstance(value, str) and value for value in flow_types)
    assert seen["started"]["schedule"]["state"] == "Active"


def test_rejected_token_and_unreachable_endpoint(
    emulator: tuple[Emulator, str], scim_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, base = emulator
    wrong = "wrong-token-fedcba9876543210"

    async def scenario(entra: Entra) -> list[Exception]:
        app = await entra.create_app("acme", NAME)
        job = await entra.create_job(app)
        errors: list[Exception] = []
        for url, token in ((scim_url, wrong), ("http://127.0.0.1:9/scim/v2", wrong)):
            try:
                await entra.validate_credentials(app, job["id"], url, token)
            except Exception as error:
                errors.append(error)
        return errors

    with caplog.at_level(logging.DEBUG):
        rejected, unreachable = run(base, scenario)

    assert isinstance(rejected, TokenRejected)
    assert "rotate-token" in str(rejected)
    assert isinstance(unreachable, EndpointUnreachable)
    assert "reachable from Microsoft's cloud" in str(unreachable)
    for text in (str(rejected), str(unreachable), caplog.text):
        assert wrong not in text


def test_assignments_use_the_user_role_and_are_idempotent(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator

    async def scenario(entra: Entra) -> dict[str, Any]:
        app = await entra.create_app("acme", NAME)
        role = await entra.user_role_id(app)
        alice = await entra.find_user("alice@acme.example")
        group = await entra.find_group("Prompt Users")
        assert alice is not None
        assert group is not None
        first = await entra.assign(app, alice["id"], role)
        second = await entra.assign(app, alice["id"], role)
        await entra.assign(app, group["id"], role)
        listed = await entra.list_assignments(app)
        await entra.unassign(app, first["id"])
        await entra.unassign(app, first["id"])
        return {
            "role": role,
            "first": first,
            "second": second,
            "listed": listed,
            "after": await entra.list_assignments(app),
            "nobody": await entra.find_user("nobody@acme.example"),
            "no group": await entra.find_group("No Such Group"),
        }

    seen = run(base, scenario)

    sp = next(iter(emu.service_principals.values()))
    user_role = next(r for r in sp["appRoles"] if r["displayName"] == "User")
    assert seen["role"] == user_role["id"]
    assert seen["second"]["id"] == seen["first"]["id"]
    assert len(seen["listed"]) == 2
    assert {a["appRoleId"] for a in seen["listed"]} == {user_role["id"]}
    assert len(seen["after"]) == 1
    assert seen["nobody"] is None
    assert seen["no group"] is None


def test_provision_on_demand_keeps_to_the_rate_limit(
    emulator: tuple[Emulator, str], scim_url: str
) -> None:
    _, base = emulator
    timings = Timings(
        attempts=6,
        first_delay=0.02,
        visible_reads=2,
        read_interval=0.01,
        on_demand_requests=2,
        on_demand_window=0.5,
    )

    async def scenario(entra: Entra) -> tuple[dict[str, Any], float, list[Any]]:
        app = await entra.create_app("acme", NAME)
        job = await entra.create_job(app)
        await entra.put_secrets(
            app,
            base_address=scim_url,
            token=SCIM_TOKEN,
            sync_all=True,
            notification_email=None,
        )
        schema = await entra.get_schema(app, job["id"])
        rule_id = schema["synchronizationRules"][0]["id"]
        users = [
            await entra.find_user(f"{name}@acme.example")
            for name in ("alice", "bob", "carol")
        ]
        started = time.monotonic()
        outcomes = await entra.provision_on_demand(
            app, job["id"], rule_id, [str(u["id"]) for u in users if u]
        )
        elapsed = time.monotonic() - started
        return outcomes, elapsed, await entra.provisioning_logs(app, job["id"], top=10)

    outcomes, elapsed, logs = run(base, scenario, timings)

    assert len(outcomes) == 3
    assert all(
        o["result"] in ("Success", "Skipped", "Failure") for o in outcomes.values()
    )
    assert elapsed >= 0.5
    assert isinstance(logs, list)


def test_delete_app_removes_it_and_is_idempotent(
    emulator: tuple[Emulator, str],
) -> None:
    emu, base = emulator

    async def scenario(entra: Entra) -> AppRef | None:
        app = await entra.create_app("acme", NAME)
        await entra.delete_app(app)
        await entra.delete_app(app)
        return await entra.find_app("acme")

    assert run(base, scenario) is None
    assert emu.applications == {}
    assert emu.service_principals == {}


def test_list_assignments_follows_next_links(emulator: tuple[Emulator, str]) -> None:
    emu, base = emulator
    ids = [
        emu.add_user(userPrincipalName=f"user{n}@acme.example", displayName=f"U {n}")[
            "id"
        ]
        for n in range(105)
    ]

    async def scenario(entra: Entra) -> list[dict[str, Any]]:
        app = await entra.create_app("acme", NAME)
        role = await entra.user_role_id(app)
        await asyncio.gather(*(entra.assign(app, uid, role) for uid in ids))
        return await entra.list_assignments(app)

    listed = run(base, scenario)

    assert sorted(a["principalId"] for a in listed) == sorted(ids)
