"""Fault injection: throttling, transient errors and replication delay, per test."""

from __future__ import annotations

import asyncio
import time

import pytest
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from entra_emulator import Emulator

from .graph_sdk import HTTP, TEMPLATE, client

INSTANTIATE = f"/v1.0/applicationTemplates/{TEMPLATE}/instantiate"


def _instantiate(graph_url: str) -> dict[str, str]:
    response = HTTP.post(graph_url + INSTANTIATE, json={"displayName": "Prompt"})
    assert response.status_code == 201
    return {k: v["id"] for k, v in response.json().items()}


def test_429_carries_retry_after_and_sdk_retries(
    graph_url: str, emulator: Emulator
) -> None:
    emulator.add_fault(status=429, count=1, retry_after=1, method="GET", path="/users")

    raw = HTTP.get(graph_url + "/v1.0/users")
    assert raw.status_code == 429
    assert raw.headers["Retry-After"] == "1"
    assert raw.json()["error"]["code"] == "TooManyRequests"

    emulator.add_fault(status=429, count=1, retry_after=1, method="GET", path="/users")
    started = time.monotonic()
    users = asyncio.run(client(graph_url).users.get())
    assert len(users.value) == 6
    assert time.monotonic() - started >= 1  # the SDK waited Retry-After


@pytest.mark.parametrize("status", [403, 409, 500, 503])
def test_transient_status_for_the_next_n_matching_requests(
    graph_url: str, emulator: Emulator, status: int
) -> None:
    ids = _instantiate(graph_url)
    path = f"/v1.0/servicePrincipals/{ids['servicePrincipal']}/synchronization/jobs"
    emulator.add_fault(
        status=status, count=2, method="POST", path="/servicePrincipals/*/jobs"
    )

    answers = [HTTP.post(graph_url + path, json={"templateId": "scim"}).status_code]
    answers.append(HTTP.post(graph_url + path, json={"templateId": "scim"}).status_code)
    answers.append(HTTP.get(graph_url + path).status_code)  # other method: not matched
    answers.append(HTTP.post(graph_url + path, json={"templateId": "scim"}).status_code)

    assert answers == [status, status, 200, 201]
    assert emulator.writes()["total"] == 2  # instantiate and the one job


def test_sdk_surfaces_403_as_odata_error(graph_url: str, emulator: Emulator) -> None:
    emulator.add_fault(status=403, count=1, path="/groups")
    with pytest.raises(ODataError) as raised:
        asyncio.run(client(graph_url).groups.get())
    assert raised.value.response_status_code == 403
    assert raised.value.error.code == "Authorization_RequestDenied"


def test_replication_delay_hides_new_objects_for_n_requests(
    graph_url: str, emulator: Emulator
) -> None:
    emulator.add_fault(
        kind="replication", requests=2, method="POST", path="*/instantiate"
    )
    ids = _instantiate(graph_url)
    url = f"{graph_url}/v1.0/servicePrincipals/{ids['servicePrincipal']}"

    codes = [HTTP.get(url).status_code for _ in range(3)]

    assert codes == [404, 404, 200]
    assert (
        HTTP.get(f"{graph_url}/v1.0/applications/{ids['application']}").status_code
        == 404
    )


def test_replication_delay_in_seconds(graph_url: str, emulator: Emulator) -> None:
    emulator.add_fault(kind="replication", seconds=0.5, path="*/instantiate")
    ids = _instantiate(graph_url)
    url = f"{graph_url}/v1.0/servicePrincipals/{ids['servicePrincipal']}"

    assert HTTP.get(url).status_code == 404
    time.sleep(0.6)
    assert HTTP.get(url).status_code == 200


def test_faults_through_the_admin_api(graph_url: str) -> None:
    admin = graph_url + "/_emulator/faults"
    created = HTTP.post(admin, json={"status": 503, "count": 1, "path": "/groups"})
    assert created.status_code == 201
    assert HTTP.get(admin).json()["value"][0]["status"] == 503

    assert HTTP.get(graph_url + "/v1.0/groups").status_code == 503
    assert HTTP.get(graph_url + "/v1.0/groups").status_code == 200

    bad = HTTP.post(admin, json={"status": 418})
    assert bad.status_code == 400
    HTTP.post(admin, json={"status": 500, "count": 5})
    assert HTTP.delete(admin).status_code == 204
    assert HTTP.get(graph_url + "/v1.0/groups").status_code == 200


def test_skip_lets_the_first_matching_requests_through(
    graph_url: str, emulator: Emulator
) -> None:
    emulator.add_fault(status=500, count=1, skip=2, method="GET", path="/groups")

    codes = [HTTP.get(graph_url + "/v1.0/groups").status_code for _ in range(4)]

    assert codes == [200, 200, 500, 200]


def test_after_carries_out_the_write_and_loses_its_answer(
    graph_url: str, emulator: Emulator
) -> None:
    emulator.add_fault(
        status=503, count=1, after=True, method="POST", path="*/instantiate"
    )

    lost = HTTP.post(graph_url + INSTANTIATE, json={"displayName": "Prompt"})

    assert lost.status_code == 503
    assert lost.json()["error"]["code"] == "ServiceUnavailable"
    (app,) = emulator.state()["applications"]
    assert app["displayName"] == "Prompt"
    assert emulator.writes()["total"] == 1


@pytest.mark.parametrize(
    ("rule", "problem"),
    [({"skip": -1}, "skip must be"), ({"after": "yes"}, "after must be")],
)
def test_bad_skip_or_after_is_refused(
    graph_url: str, rule: dict[str, object], problem: str
) -> None:
    answer = HTTP.post(graph_url + "/_emulator/faults", json={"status": 500, **rule})

    assert answer.status_code == 400
    assert problem in answer.text
