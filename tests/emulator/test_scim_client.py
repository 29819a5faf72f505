"""Entra's Test Connection probe, as the SCIM side sees it (scim-entra.md 1.1).

validateCredentials and the start of every cycle query a user that cannot exist:
the first matching attribute equal to a random GUID, `+` for spaces, quotes
percent-encoded; validateCredentials also asks for a group the same way.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from entra_emulator import Emulator

from .graph_sdk import HTTP
from .scim_recorder import Recorded, RecordingScim
from .tenant_setup import configure, prompt_schema

FILTER = re.compile(r'^(?P<attribute>\w+) eq "(?P<value>[^"]+)"$')


def _probed_value(request: Recorded, attribute: str) -> str:
    """The GUID a probe asked for; fails unless the filter is `attribute eq GUID`."""
    match = FILTER.match(request.query.get("filter", ""))
    assert match is not None, request.query
    assert match["attribute"] == attribute
    return str(uuid.UUID(match["value"]))


def _match_on_external_id(schema: dict[str, Any]) -> dict[str, Any]:
    schema = prompt_schema(schema)
    users = schema["synchronizationRules"][0]["objectMappings"][1]
    for mapping in users["attributeMappings"]:
        mapping["matchingPriority"] = {"externalId": 1, "userName": 2}.get(
            mapping["targetAttributeName"], 0
        )
    return schema


def _validate_url(graph_url: str, sp_id: str, job_id: str) -> str:
    return (
        f"{graph_url}/v1.0/servicePrincipals/{sp_id}/synchronization/jobs/"
        f"{job_id}/validateCredentials"
    )


@pytest.mark.parametrize(
    ("edit", "attribute"),
    [(prompt_schema, "userName"), (_match_on_external_id, "externalId")],
    ids=["matching-userName", "matching-externalId"],
)
def test_validate_credentials_probes_a_random_guid(
    emulator: Emulator,
    graph_url: str,
    scim: RecordingScim,
    scim_url: str,
    edit: Any,
    attribute: str,
) -> None:
    ids = configure(graph_url, scim_url, scim.token, [], edit=edit, start=False)
    url = _validate_url(graph_url, ids.sp_id, ids.job_id)

    answers = [HTTP.post(url, json={"useSavedCredentials": True}) for _ in range(2)]

    assert [a.status_code for a in answers] == [204, 204]
    assert [(r.method, r.path) for r in scim.requests] == [
        ("GET", "/scim/Users"),
        ("GET", "/scim/Groups"),
    ] * 2
    users = [r for r in scim.requests if r.path == "/scim/Users"]
    groups = [r for r in scim.requests if r.path == "/scim/Groups"]
    guids = {_probed_value(r, attribute) for r in users}
    guids |= {_probed_value(r, "displayName") for r in groups}
    assert len(guids) == 4  # a fresh GUID per query
    assert {r.query.get("excludedAttributes") for r in groups} == {"members"}
    assert {r.authorization for r in scim.requests} == {f"Bearer {scim.token}"}
    assert all("+eq+%22" in r.raw_query for r in scim.requests)  # Entra's encoding
    job = HTTP.get(url.removesuffix("/validateCredentials")).json()
    assert job["status"]["code"] == "NotConfigured"  # a probe is not a cycle


def test_validate_credentials_with_given_credentials_uses_them(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = configure(graph_url, scim_url, "saved-but-stale", [], start=False)
    given = {
        "useSavedCredentials": False,
        "credentials": [
            {"key": "BaseAddress", "value": scim_url},
            {"key": "SecretToken", "value": scim.token},
        ],
    }

    answer = HTTP.post(_validate_url(graph_url, ids.sp_id, ids.job_id), json=given)

    assert answer.status_code == 204
    assert {r.authorization for r in scim.requests} == {f"Bearer {scim.token}"}


def test_validate_credentials_failure_names_the_request_and_does_not_quarantine(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = configure(graph_url, scim_url, "wrong-token", [], start=True)
    url = _validate_url(graph_url, ids.sp_id, ids.job_id)

    failed = HTTP.post(url, json={"useSavedCredentials": True})

    assert failed.status_code == 400
    message = failed.json()["error"]["message"]
    assert f"GET {scim_url}/Users?filter answered 401" in message
    assert "CredentialValidationFailure" in message
    assert "wrong-token" not in failed.text
    assert len(scim.requests) == 1  # stops at the first failed query
    job = HTTP.get(url.removesuffix("/validateCredentials")).json()
    assert job["status"]["code"] == "Active"


def test_every_cycle_starts_with_the_user_probe(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ada = emulator.user("ada.lovelace@contoso.example").id
    ids = configure(graph_url, scim_url, scim.token, [ada], edit=_match_on_external_id)

    for _ in range(2):
        scim.clear()
        emulator.cycle(ids.job_id)
        probe, lookup = scim.requests[0], scim.requests[1]
        _probed_value(probe, "externalId")
        assert probe.path == "/scim/Users"
        assert lookup.query == {"filter": f'externalId eq "{ada}"'}
