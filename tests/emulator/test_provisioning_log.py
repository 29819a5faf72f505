"""Provisioning logs (/auditLogs/provisioning) and job status after each cycle.

One entry per exported or skipped object, actions as Graph names them (create,
update, disable, delete); lastExecution carries the cycle's counts and state.
"""

from __future__ import annotations

from typing import Any

from entra_emulator import Emulator

from .graph_sdk import HTTP
from .scim_recorder import RecordingScim
from .tenant_setup import AppIds, configure

ADA = "ada.lovelace@contoso.example"


def _logs(graph_url: str, ids: AppIds, cycle_id: str) -> list[dict[str, Any]]:
    """This cycle's entries, oldest first."""
    url = f"{graph_url}/v1.0/auditLogs/provisioning"
    params = {"$filter": f"jobId eq '{ids.job_id}'", "$top": "500"}
    entries: list[dict[str, Any]] = HTTP.get(url, params=params).json()["value"]
    return [e for e in reversed(entries) if e["cycleId"] == cycle_id]


def _status(graph_url: str, ids: AppIds) -> dict[str, Any]:
    url = (
        f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}/synchronization/jobs/"
        f"{ids.job_id}"
    )
    status: dict[str, Any] = HTTP.get(url).json()["status"]
    return status


def _row(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (
        entry["provisioningAction"],
        entry["provisioningStatusInfo"]["status"],
        entry["sourceIdentity"]["displayName"],
    )


def test_initial_cycle_logs_and_counts(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = configure(graph_url, scim_url, scim.token, [emulator.user(ADA).id])
    sales = emulator.group("Sales").id
    HTTP.post(
        f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}/appRoleAssignedTo",
        json={
            "principalId": sales,
            "resourceId": ids.sp_id,
            "appRoleId": "18d14569-c3bd-439b-9a66-3a2aee01d14f",
        },
    )

    summary = emulator.cycle(ids.job_id)

    entries = _logs(graph_url, ids, summary["cycleId"])
    assert sorted(_row(e) for e in entries) == [
        ("create", "skipped", "Grace Hopper"),  # disabled: not created
        ("create", "success", "Ada Lovelace"),
        ("create", "success", "Linus Torvalds"),
    ]
    ada = next(
        e for e in entries if e["sourceIdentity"]["displayName"] == "Ada Lovelace"
    )
    scim_ada = scim.by_user_name(ADA)
    assert scim_ada is not None
    assert ada["sourceIdentity"]["id"] == emulator.user(ADA).id
    assert ada["targetIdentity"]["id"] == scim_ada["id"]
    assert ada["servicePrincipal"]["id"] == ids.sp_id
    assert {"displayName": "userName", "oldValue": None, "newValue": ADA} in ada[
        "modifiedProperties"
    ]
    grace = next(
        e for e in entries if e["provisioningStatusInfo"]["status"] != "success"
    )
    assert "disabled" in grace["provisioningStatusInfo"]["errorInformation"]["reason"]

    status = _status(graph_url, ids)
    last = status["lastExecution"]
    assert last["activityIdentifier"] == summary["cycleId"]
    assert (last["state"], last["error"]) == ("Succeeded", None)
    counts = (last["countEntitled"], last["countImported"], last["countExported"])
    assert counts == (3, 3, 2)  # ada, linus, grace in scope; two exported
    assert last["timeBegan"] <= last["timeEnded"]
    assert status["lastSuccessfulExecutionWithExports"] == last
    assert status["synchronizedEntryCountByType"][0]["value"] == 2
    assert status["code"] == "Active"


def test_each_lifecycle_step_is_logged_with_its_action(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ada_id = emulator.user(ADA).id
    ids = configure(graph_url, scim_url, scim.token, [ada_id])
    emulator.cycle(ids.job_id)
    steps: list[tuple[str, dict[str, Any]]] = []
    statuses: list[dict[str, Any]] = []

    for change in ("rename", "nothing", "disable", "delete"):
        if change == "rename":
            emulator.update_user(ADA, displayName="Ada King")
        elif change == "disable":
            emulator.disable_user(ADA)
        elif change == "delete":
            emulator.hard_delete_user(ADA)
        steps.append((change, emulator.cycle(ids.job_id)))
        statuses.append(_status(graph_url, ids))

    logged = {
        change: _logs(graph_url, ids, summary["cycleId"]) for change, summary in steps
    }
    assert {
        change: [_row(e) for e in entries] for change, entries in logged.items()
    } == {
        "rename": [("update", "success", "Ada King")],
        "nothing": [],  # an unchanged user is not exported, so not logged
        "disable": [("disable", "success", "Ada King")],
        "delete": [("delete", "success", ada_id)],  # gone from the directory
    }
    assert {e["sourceIdentity"]["id"] for es in logged.values() for e in es} == {ada_id}
    (rename,) = logged["rename"]
    assert rename["modifiedProperties"] == [
        {
            "displayName": "displayName",
            "oldValue": "Ada Lovelace",
            "newValue": "Ada King",
        }
    ]
    (disable,) = logged["disable"]
    assert disable["modifiedProperties"] == [
        {"displayName": "active", "oldValue": "True", "newValue": "False"}
    ]

    cycle_ids = [summary["cycleId"] for _, summary in steps]
    assert [s["lastExecution"]["activityIdentifier"] for s in statuses] == cycle_ids
    assert [s["lastExecution"]["countExported"] for s in statuses] == [1, 0, 1, 1]
    with_exports = [
        s["lastSuccessfulExecutionWithExports"]["activityIdentifier"] for s in statuses
    ]
    assert with_exports == [cycle_ids[0], cycle_ids[0], cycle_ids[2], cycle_ids[3]]
