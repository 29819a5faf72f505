"""A rehearsal of `pulumi up` for one organisation, against loopback servers.

The program runs under the SDK's mocks; the mocks do what the engine would: the
azuread resources are created with the Graph calls pulumi-azuread makes
(iac.md section 1.1), sent to the Entra emulator, and the dynamic resources are
created by their own providers, unpickled from `__provider` as the provider
process does. Then the emulator runs a provisioning cycle into the SCIM service.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dill
import httpx
import pulumi
import pytest
from pulumi.runtime import rpc

from entra_emulator.server import Emulator
from provisioning.mappings import schema_drift
from provisioning.spec import ProvisioningSettings
from tests.scim_api._server import ADMIN_KEY, Service, start_service

from .pulumi_harness import (
    APPLICATION,
    ASSIGNMENT,
    JOB,
    SECRET,
    SERVICE_PRINCIPAL,
    TENANT,
    run_program,
)

# Creates go over HTTP, each dynamic call builds its own Graph client, and the
# SCIM service and the emulator start: a few seconds in all.
pytestmark = pytest.mark.slow

SEED = {
    "users": [
        {"userPrincipalName": "alice@acme.example", "displayName": "Alice"},
        {"userPrincipalName": "bob@acme.example", "displayName": "Bob"},
        {"userPrincipalName": "carol@acme.example", "displayName": "Carol"},
    ],
    "groups": [{"displayName": "Prompt Users", "members": ["bob@acme.example"]}],
}


def unwrap(value: Any) -> Any:
    """Plain values, as the engine hands them to a dynamic provider."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class EmulatedEngine(pulumi.runtime.Mocks):
    """Creates what the program registers, on the emulator and the SCIM service."""

    def __init__(self, graph: str) -> None:
        self.graph = graph
        self.http = httpx.Client(base_url=graph, timeout=30)
        self.calls: list[pulumi.runtime.MockCallArgs] = []
        self.states: dict[str, dict[str, Any]] = {}

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = unwrap(dict(args.inputs))
        if not args.custom:
            return None, {}
        if args.typ.startswith("pulumi-python:dynamic"):
            provider = dill.loads(base64.b64decode(inputs["__provider"]))
            result = provider.create(inputs)
            state = {**inputs, **(result.outs or {})}
            self.states[args.typ] = state
            return result.id, state

        create = {
            APPLICATION: self._application,
            SERVICE_PRINCIPAL: self._service_principal,
            SECRET: self._secret,
            JOB: self._job,
            ASSIGNMENT: self._assignment,
        }[args.typ]
        resource_id, state = create(inputs)
        self.states[args.typ] = state
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append(args)
        name = args.token.split(":")[-1]
        if name == "getApplication":
            app = self._ok(self.http.get(f"/applications/{args.args['objectId']}"))
            return {"objectId": app["id"], "clientId": app["appId"]}
        if name == "getUser":
            user = self._ok(self.http.get(f"/users/{args.args['userPrincipalName']}"))
            return {"objectId": user["id"]}
        if name == "getGroup":
            wanted = args.args["displayName"]
            groups = self._ok(self.http.get("/groups"))["value"]
            return {
                "objectId": next(g["id"] for g in groups if g["displayName"] == wanted)
            }
        raise AssertionError(f"unexpected invoke {args.token}")

    # What pulumi-azuread does for each resource (iac.md section 1.1).

    def _application(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        path = f"/applicationTemplates/{inputs['templateId']}/instantiate"
        body = {"displayName": inputs["displayName"]}
        made = self._ok(self.http.post(path, json=body))
        app, sp = made["application"], made["servicePrincipal"]
        return f"/applications/{app['id']}", {
            **inputs,
            "applicationObjectId": app["id"],
            "servicePrincipalId": f"/servicePrincipals/{sp['id']}",
            "servicePrincipalObjectId": sp["id"],
        }

    def _service_principal(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        sp = self._ok(
            self.http.get(f"/servicePrincipals(appId='{inputs['clientId']}')")
        )
        patch = {
            "tags": inputs["tags"],
            "appRoleAssignmentRequired": inputs["appRoleAssignmentRequired"],
        }
        self._ok(self.http.patch(f"/servicePrincipals/{sp['id']}", json=patch))
        roles = [
            {
                "id": role["id"],
                "displayName": role["displayName"],
                "enabled": role.get("isEnabled", True),
                "value": role.get("value"),
            }
            for role in sp["appRoles"]
        ]
        return f"/servicePrincipals/{sp['id']}", {
            **inputs,
            "objectId": sp["id"],
            "appRoles": roles,
        }

    def _secret(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        path = f"{inputs['servicePrincipalId']}/synchronization/secrets"
        self._ok(self.http.put(path, json={"value": inputs["credentials"]}))
        return inputs["servicePrincipalId"], inputs

    def _job(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        path = f"{inputs['servicePrincipalId']}/synchronization/jobs"
        job = self._ok(self.http.post(path, json={"templateId": inputs["templateId"]}))
        assert inputs["enabled"] is False  # azuread would POST /start otherwise
        return f"{path}/{job['id']}", inputs

    def _assignment(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        body = {
            "principalId": inputs["principalObjectId"],
            "resourceId": inputs["resourceObjectId"],
            "appRoleId": inputs["appRoleId"],
        }
        path = f"/servicePrincipals/{inputs['resourceObjectId']}/appRoleAssignedTo"
        made = self._ok(self.http.post(path, json=body))
        return str(made["id"]), inputs

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.is_success, (response.request.url, response.text)
        return response.json() if response.content else None


@pytest.fixture
def scim(tmp_path: Path) -> Iterator[Service]:
    yield from start_service(f"sqlite:///{tmp_path / 'scim.db'}")


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, str]]:
    monkeypatch.setenv("PROMPT_GRAPH_CREDENTIAL", "anonymous")
    emulator = Emulator(seed=SEED)
    with emulator.serve_in_thread() as base_url:
        yield emulator, f"{base_url}/v1.0"


def organisation_file(tmp_path: Path, scim: Service) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(
        f"""\
organisation: acme
display_name: Acme Health
prompt:
  scim_url: {scim.scim}
  admin_url: {scim.url}/admin
  token: {{issue: true}}
  default_department: Nursing
  default_section: Ward 3
entra:
  tenant_id: {TENANT}
assignments:
  users: [alice@acme.example]
  groups: [Prompt Users]
"""
    )
    return path


def test_up_sets_up_provisioning_and_a_cycle_reaches_prompt(
    tmp_path: Path,
    scim: Service,
    graph: tuple[Emulator, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator, graph_url = graph
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_KEY", ADMIN_KEY)
    engine = EmulatedEngine(graph_url)
    config = {
        "prompt:organisationFile": str(organisation_file(tmp_path, scim)),
        "prompt:graphBaseUrl": graph_url,
    }

    run = run_program("acme", config, mocks=engine)

    sp, job_id = run.outputs["service_principal_id"], run.outputs["job_id"]
    job_url = f"/servicePrincipals/{sp}/synchronization/jobs/{job_id}"
    assert engine.http.get(job_url).json()["schedule"]["state"] == "Active"
    schema = engine.http.get(f"{job_url}/schema").json()
    assert schema_drift(schema, ProvisioningSettings()) == []
    assigned = engine.http.get(f"/servicePrincipals/{sp}/appRoleAssignedTo").json()
    assert len(assigned["value"]) == run.outputs["assignment_count"] == 2
    sp_json = engine.http.get(f"/servicePrincipals/{sp}").json()
    assert "prompt-provisioning:acme" in sp_json["tags"]

    cycle = emulator.cycle(job_id)
    token = engine.states["pulumi-python:dynamic/prompt:PromptOrganisationSettings"]
    with scim.client(token["token"]) as client:
        users = client.get("/Users").json()["Resources"]

    by_name = {user["userName"]: user for user in users}
    assert set(by_name) == {"alice@acme.example", "bob@acme.example"}, cycle
    alice = engine.http.get("/users/alice@acme.example").json()
    assert by_name["alice@acme.example"]["externalId"] == alice["id"]
    assert all(user["active"] is True for user in users)
