"""Configure an emulated app the way the provisioning engine will, over Graph HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .graph_sdk import HTTP, TEMPLATE

USER_ROLE = "18d14569-c3bd-439b-9a66-3a2aee01d14f"


@dataclass
class AppIds:
    sp_id: str
    job_id: str


def prompt_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Apply the three Prompt edits of graph.md 7.5 to a schema."""
    keep = {
        "userName",
        "active",
        "displayName",
        'emails[type eq "work"].value',
        "name.givenName",
        "name.familyName",
        "externalId",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    }
    for mapping in schema["synchronizationRules"][0]["objectMappings"]:
        if mapping["sourceObjectName"] == "Group":
            mapping["enabled"] = False
            continue
        mapping["attributeMappings"] = [
            m for m in mapping["attributeMappings"] if m["targetAttributeName"] in keep
        ]
        for m in mapping["attributeMappings"]:
            if m["targetAttributeName"] == "externalId":
                m["source"] = {
                    "type": "Attribute",
                    "name": "objectId",
                    "expression": "[objectId]",
                    "parameters": [],
                }
    return schema


def configure(
    graph_url: str,
    base_address: str,
    token: str,
    principals: list[str],
    *,
    sync_all: bool = False,
    edit: Callable[[dict[str, Any]], dict[str, Any]] = prompt_schema,
    start: bool = True,
) -> AppIds:
    """Instantiate, create the job, save secrets and schema, assign, start."""
    g = httpx.Client(base_url=graph_url + "/v1.0", verify=False)
    sp_id = g.post(
        f"/applicationTemplates/{TEMPLATE}/instantiate", json={"displayName": "Prompt"}
    ).json()["servicePrincipal"]["id"]
    job_id = g.post(
        f"/servicePrincipals/{sp_id}/synchronization/jobs", json={"templateId": "scim"}
    ).json()["id"]
    secrets = [
        {"key": "BaseAddress", "value": base_address},
        {"key": "SecretToken", "value": token},
        {"key": "SyncAll", "value": "true" if sync_all else "false"},
    ]
    put = g.put(
        f"/servicePrincipals/{sp_id}/synchronization/secrets", json={"value": secrets}
    )
    assert put.status_code == 204
    schema_url = f"/servicePrincipals/{sp_id}/synchronization/jobs/{job_id}/schema"
    put = g.put(schema_url, json=edit(g.get(schema_url).json()))
    assert put.status_code == 204, put.text
    for principal in principals:
        assign(graph_url, sp_id, principal)
    if start:
        started = g.post(
            f"/servicePrincipals/{sp_id}/synchronization/jobs/{job_id}/start"
        )
        assert started.status_code == 204
    return AppIds(sp_id, job_id)


def assign(graph_url: str, sp_id: str, principal: str) -> str:
    response = HTTP.post(
        f"{graph_url}/v1.0/servicePrincipals/{sp_id}/appRoleAssignedTo",
        json={"principalId": principal, "resourceId": sp_id, "appRoleId": USER_ROLE},
    )
    assert response.status_code == 201, response.text
    assignment_id: str = response.json()["id"]
    return assignment_id


def unassign(graph_url: str, sp_id: str, assignment_id: str) -> None:
    response = HTTP.delete(
        f"{graph_url}/v1.0/servicePrincipals/{sp_id}/appRoleAssignedTo/{assignment_id}"
    )
    assert response.status_code == 204
