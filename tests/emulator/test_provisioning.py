"""Provisioning cycles against a recording SCIM server: scoping, bodies, PATCHes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from entra_emulator import Emulator

from .graph_sdk import HTTP
from .scim_recorder import RecordingScim
from .tenant_setup import AppIds, assign, configure, unassign

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
UPN = "{}@contoso.example"


def _ids(emulator: Emulator, *refs: str) -> list[str]:
    ids = []
    for ref in refs:
        if "." in ref:
            ids.append(emulator.user(UPN.format(ref)).id)
        else:
            ids.append(emulator.group(ref).id)
    return ids


def _setup(
    emulator: Emulator,
    graph_url: str,
    scim: RecordingScim,
    scim_url: str,
    *refs: str,
    flag: bool = False,
    **options: Any,
) -> AppIds:
    base = scim_url + ("?aadOptscim062020" if flag else "")
    return configure(graph_url, base, scim.token, _ids(emulator, *refs), **options)


def _patches(scim: RecordingScim) -> list[dict[str, Any]]:
    return [r.body for r in scim.requests if r.method == "PATCH"]


def test_initial_cycle_scopes_by_assignment(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", "Sales", "Outer")

    summary = emulator.cycle(ids.job_id)

    # ada directly; linus as a direct member of Sales; grace (Sales) is disabled;
    # ken is only in Inner, nested in the assigned Outer group: not expanded.
    names = sorted(u["userName"] for u in scim.users.values())
    assert names == [UPN.format("ada.lovelace"), UPN.format("linus.torvalds")]
    assert summary["created"] == 2
    assert summary["skipped"] == 1
    assert summary["state"] == "Succeeded"
    # The Groups mapping is off: assigned groups scope users, nothing else.
    assert [r for r in scim.requests if "/Groups" in r.path] == []


@pytest.mark.parametrize("state", ["disabled", "soft-deleted"])
def test_inactive_users_in_scope_are_not_created(
    emulator: Emulator,
    graph_url: str,
    scim: RecordingScim,
    scim_url: str,
    state: str,
) -> None:
    alan = UPN.format("alan.turing")
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", "alan.turing")
    if state == "disabled":
        emulator.disable_user(alan)
    else:
        emulator.soft_delete_user(alan)  # assignments stay, for a restore

    summary = emulator.cycle(ids.job_id)

    assert [u["userName"] for u in scim.users.values()] == [UPN.format("ada.lovelace")]
    assert (summary["created"], summary["skipped"]) == (1, 1)
    assert [r.method for r in scim.writes()] == ["POST"]


def test_users_mapping_disabled_sends_only_the_probe(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    def users_off(schema: dict[str, Any]) -> dict[str, Any]:
        from .tenant_setup import prompt_schema

        schema = prompt_schema(schema)
        schema["synchronizationRules"][0]["objectMappings"][1]["enabled"] = False
        return schema

    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", edit=users_off)

    summary = emulator.cycle(ids.job_id)

    (probe,) = scim.requests
    assert probe.method == "GET"
    assert probe.query["filter"].startswith("userName eq ")
    assert probe.query["filter"] != f'userName eq "{UPN.format("ada.lovelace")}"'
    assert (summary["created"], summary["writes"]) == (0, 0)


def test_create_body_carries_mapped_attributes(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace")
    emulator.cycle(ids.job_id)

    post = next(r for r in scim.requests if r.method == "POST")
    assert post.body == {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            ENTERPRISE,
        ],
        "userName": UPN.format("ada.lovelace"),
        "active": "True",
        "displayName": "Ada Lovelace",
        "emails": [
            {"type": "work", "primary": True, "value": UPN.format("ada.lovelace")}
        ],
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "externalId": emulator.user(UPN.format("ada.lovelace")).id,
        ENTERPRISE: {"department": "Sales"},
        "meta": {"resourceType": "User"},
    }
    get = scim.requests[1]
    assert get.query == {"filter": f'userName eq "{UPN.format("ada.lovelace")}"'}


def test_unchanged_cycle_sends_only_gets(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", "Sales")
    emulator.cycle(ids.job_id)
    scim.clear()

    summary = emulator.cycle(ids.job_id)

    assert scim.writes() == []
    assert summary["writes"] == 0
    assert {r.method for r in scim.requests} == {"GET"}


def test_attribute_change_sends_one_legacy_patch(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", "Sales")
    emulator.cycle(ids.job_id)
    scim.clear()

    emulator.update_user(UPN.format("ada.lovelace"), displayName="Ada King")
    summary = emulator.cycle(ids.job_id)

    assert _patches(scim) == [
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Ada King"}
            ],
        }
    ]
    assert summary["updated"] == 1


def test_disable_and_enable_send_active_strings(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace")
    emulator.cycle(ids.job_id)
    ada = UPN.format("ada.lovelace")

    emulator.disable_user(ada)
    emulator.cycle(ids.job_id)
    emulator.enable_user(ada)
    emulator.cycle(ids.job_id)

    ops = [p["Operations"] for p in _patches(scim)]
    assert ops == [
        [{"op": "Replace", "path": "active", "value": "False"}],
        [{"op": "Replace", "path": "active", "value": "True"}],
    ]
    assert scim.by_user_name(ada) is not None


def test_unassign_disables_and_reassign_enables(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url)
    ada_id = emulator.user(UPN.format("ada.lovelace")).id
    assignment = assign(graph_url, ids.sp_id, ada_id)
    emulator.cycle(ids.job_id)

    unassign(graph_url, ids.sp_id, assignment)
    first = emulator.cycle(ids.job_id)
    second = emulator.cycle(ids.job_id)  # no longer managed: nothing more
    assign(graph_url, ids.sp_id, ada_id)
    emulator.cycle(ids.job_id)

    assert [p["Operations"] for p in _patches(scim)] == [
        [{"op": "Replace", "path": "active", "value": "False"}],
        [{"op": "Replace", "path": "active", "value": "True"}],
    ]
    assert (first["disabled"], second["disabled"]) == (1, 0)
    assert len([r for r in scim.requests if r.method == "POST"]) == 1


def test_soft_delete_disables_and_hard_delete_deletes(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", "alan.turing")
    emulator.cycle(ids.job_id)
    ada, alan = UPN.format("ada.lovelace"), UPN.format("alan.turing")
    scim_ada = scim.by_user_name(ada)
    assert scim_ada is not None

    emulator.soft_delete_user(ada)
    emulator.cycle(ids.job_id)
    assert scim_ada["active"] is False

    emulator.hard_delete_user(ada)
    summary = emulator.cycle(ids.job_id)
    deletes = [r for r in scim.requests if r.method == "DELETE"]
    assert [r.path for r in deletes] == [f"/scim/Users/{scim_ada['id']}"]
    assert summary["deleted"] == 1
    assert scim.by_user_name(ada) is None
    assert scim.by_user_name(alan) is not None


def test_unassigned_then_deleted_user_gets_no_delete(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url)
    ada_id = emulator.user(UPN.format("ada.lovelace")).id
    assignment = assign(graph_url, ids.sp_id, ada_id)
    emulator.cycle(ids.job_id)
    unassign(graph_url, ids.sp_id, assignment)
    emulator.cycle(ids.job_id)

    emulator.hard_delete_user(ada_id)
    emulator.cycle(ids.job_id)

    assert [r for r in scim.requests if r.method == "DELETE"] == []


def test_flag_062020_patch_shape(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", flag=True)
    emulator.cycle(ids.job_id)
    ada = UPN.format("ada.lovelace")
    post = next(r for r in scim.requests if r.method == "POST")
    assert post.body["active"] is True
    scim.clear()

    emulator.update_user(
        ada,
        displayName="Ada King",
        givenName="Augusta",
        department="R&D",
        mail="ak@x.example",
    )
    emulator.cycle(ids.job_id)
    emulator.disable_user(ada)
    emulator.cycle(ids.job_id)

    update, disable = _patches(scim)
    assert update["Operations"] == [
        {
            "op": "replace",
            "value": {
                "displayName": "Ada King",
                "name.givenName": "Augusta",
                f"{ENTERPRISE}:department": "R&D",
            },
        },
        {
            "op": "replace",
            "path": 'emails[type eq "work"].value',
            "value": "ak@x.example",
        },
    ]
    assert disable["Operations"] == [
        {"op": "replace", "path": "active", "value": False}
    ]
    assert all(r.query.keys() <= {"filter"} for r in scim.requests)  # flag stripped
    assert all(r.path.startswith("/scim/Users") for r in scim.requests)
    user = scim.by_user_name(ada)
    assert user is not None
    assert user["name"]["givenName"] == "Augusta"


def test_legacy_add_for_attribute_the_target_lacks(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace")
    emulator.cycle(ids.job_id)
    user = scim.by_user_name(UPN.format("ada.lovelace"))
    assert user is not None
    del user[ENTERPRISE]

    emulator.cycle(ids.job_id)

    assert _patches(scim)[0]["Operations"] == [
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Sales"}
    ]


def test_sync_all_provisions_every_enabled_user(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, sync_all=True)
    summary = emulator.cycle(ids.job_id)
    assert summary["created"] == 5  # six users, grace is disabled
    assert summary["entitled"] == 6


def test_matching_priority_order_and_adoption(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    def match_on_external_id(schema: dict[str, Any]) -> dict[str, Any]:
        from .tenant_setup import prompt_schema

        schema = prompt_schema(schema)
        users = schema["synchronizationRules"][0]["objectMappings"][1][
            "attributeMappings"
        ]
        for mapping in users:
            mapping["matchingPriority"] = {"externalId": 1, "userName": 2}.get(
                mapping["targetAttributeName"], 0
            )
        return schema

    ada = UPN.format("ada.lovelace")
    scim.users["pre"] = {
        "id": "pre",
        "userName": ada,
        "active": True,
        "displayName": "Ada",
    }
    ids = _setup(
        emulator, graph_url, scim, scim_url, "ada.lovelace", edit=match_on_external_id
    )

    emulator.cycle(ids.job_id)

    filters = [
        r.query["filter"].split(" eq ")[0] for r in scim.requests if "filter" in r.query
    ]
    assert filters[1:3] == ["externalId", "userName"]
    assert [r.method for r in scim.requests if r.method != "GET"] == ["PATCH"]
    assert scim.users["pre"]["externalId"] == emulator.user(ada).id


def test_wrong_token_quarantines_and_restart_lifts(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace")
    scim.token = "rotated"

    summary = emulator.cycle(ids.job_id)

    assert summary["quarantined"] is True
    sp_url = f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}"
    job_url = f"{sp_url}/synchronization/jobs/{ids.job_id}"
    status = HTTP.get(job_url).json()["status"]
    assert status["code"] == "Quarantine"
    assert status["quarantine"]["reason"] == "EncounteredQuarantineException"
    assert status["quarantine"]["error"]["code"] == (
        "SystemForCrossDomainIdentityManagementCredentialValidationFailure"
    )
    assert status["lastExecution"]["state"] == "Failed"

    secrets = {"value": [{"key": "SecretToken", "value": "rotated"}]}
    HTTP.put(
        f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}/synchronization/secrets",
        json=secrets,
    )
    HTTP.post(
        job_url + "/restart", json={"criteria": {"resetScope": "QuarantineState"}}
    )
    assert HTTP.get(job_url).json()["status"]["code"] == "Active"

    summary = emulator.cycle(ids.job_id)
    assert (summary["created"], summary["quarantined"]) == (1, False)
    assert HTTP.get(job_url).json()["status"]["lastExecution"]["state"] == "Succeeded"


def test_failed_create_is_logged_and_counted(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace")
    scim.fail_next = [None, None, 400]  # the probe, the lookup, then the POST fails

    summary = emulator.cycle(ids.job_id)

    assert (summary["failed"], summary["state"]) == (1, "EntryLevelErrors")
    logs = HTTP.get(
        f"{graph_url}/v1.0/auditLogs/provisioning",
        params={"$filter": "provisioningStatusInfo/status eq 'failure'"},
    ).json()["value"]
    assert [
        e["provisioningStatusInfo"]["errorInformation"]["errorCode"] for e in logs
    ] == ["SystemForCrossDomainIdentityManagementBadRequest"]


def test_cycle_needs_a_started_job(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", start=False)
    response = HTTP.post(f"{graph_url}/_emulator/jobs/{ids.job_id}/cycle")
    assert response.status_code == 400
    assert "not started" in response.json()["error"]


def test_admin_cycle_endpoint_returns_summary(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "Sales")
    summary = HTTP.post(f"{graph_url}/_emulator/jobs/{ids.job_id}/cycle").json()
    assert (summary["created"], summary["skipped"], summary["jobId"]) == (
        1,
        1,
        ids.job_id,
    )
    assert summary["requests"] == {"GET": 3, "POST": 1}


def test_provisioning_logs_page_with_next_link(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, sync_all=True)
    emulator.cycle(ids.job_id)

    url: str | None = f"{graph_url}/v1.0/auditLogs/provisioning"
    params: dict[str, str] | None = {"$top": "2", "$filter": f"jobId eq '{ids.job_id}'"}
    seen: list[dict[str, Any]] = []
    while url:
        page = HTTP.get(url, params=params).json()
        seen.extend(page["value"])
        url, params = page.get("@odata.nextLink"), None
    actions = sorted(e["provisioningAction"] for e in seen)
    assert actions == ["create"] * 5 + ["create"]  # five created, grace skipped
    assert sum(e["provisioningStatusInfo"]["status"] == "skipped" for e in seen) == 1
    assert {e["servicePrincipal"]["id"] for e in seen} == {ids.sp_id}


def test_scheduled_cycles_run_after_start(
    graph_url: str, emulator: Emulator, scim: RecordingScim, scim_url: str
) -> None:
    emulator.config.cycle_interval = 0.2
    emulator.config.cycle_on_start = True
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace")

    deadline = time.monotonic() + 5
    while not scim.users and time.monotonic() < deadline:
        time.sleep(0.05)
    sp_url = f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}"
    HTTP.post(f"{sp_url}/synchronization/jobs/{ids.job_id}/pause")  # stop the schedule
    assert [u["userName"] for u in scim.users.values()] == [UPN.format("ada.lovelace")]


@pytest.mark.parametrize("flag", [False, True])
def test_provision_on_demand(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str, flag: bool
) -> None:
    ids = _setup(
        emulator, graph_url, scim, scim_url, "ada.lovelace", flag=flag, start=False
    )
    ada = emulator.user(UPN.format("ada.lovelace")).id
    url = (
        f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}/synchronization/jobs/"
        f"{ids.job_id}/provisionOnDemand"
    )

    def body(rule: str) -> dict[str, Any]:
        subject = {"objectId": ada, "objectTypeName": "User"}
        return {"parameters": [{"ruleId": rule, "subjects": [subject]}]}

    bad = HTTP.post(url, json=body("00000000-0000-0000-0000-000000000000"))
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "RequestParameterInvalid"

    rule = "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8"
    first = HTTP.post(url, json=body(rule)).json()
    import json

    assert json.loads(first["key"])["result"] == "Success"
    assert json.loads(first["value"])["scoping"]["IsEffectivelyEntitledForProvisioning"]
    emulator.disable_user(ada)
    disabled = json.loads(HTTP.post(url, json=body(rule)).json()["key"])
    assert disabled["result"] == "Success"
    assert _patches(scim)[0]["Operations"] == [
        {
            "op": "Replace",
            "path": "active",
            "value": "False",
        }  # legacy even with the flag
    ]
    again = json.loads(HTTP.post(url, json=body(rule)).json()["key"])
    assert again["result"] == "Skipped"

    statuses = [HTTP.post(url, json=body(rule)).status_code for _ in range(2)]
    assert statuses == [200, 429]  # 5 requests per 10 seconds (the 400 counted too)


def _groups_on(schema: dict[str, Any]) -> dict[str, Any]:
    from .tenant_setup import prompt_schema

    schema = prompt_schema(schema)
    schema["synchronizationRules"][0]["objectMappings"][0]["enabled"] = True
    return schema


@pytest.mark.parametrize("flag", [False, True])
def test_groups_mapping_enabled_exports_groups(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str, flag: bool
) -> None:
    ids = _setup(
        emulator, graph_url, scim, scim_url, "Sales", flag=flag, edit=_groups_on
    )
    linus = UPN.format("linus.torvalds")

    summary = emulator.cycle(ids.job_id)

    assert summary["groups"] == {"created": 1, "updated": 0, "deleted": 0, "failed": 0}
    (group,) = scim.groups.values()
    scim_linus = scim.by_user_name(linus)
    assert scim_linus is not None
    assert group["displayName"] == "Sales"
    assert group["externalId"] == emulator.group("Sales").id
    assert group["members"] == [{"value": scim_linus["id"]}]
    lookup = next(
        r for r in scim.requests if r.path == "/scim/Groups" and r.method == "GET"
    )
    assert lookup.query == {
        "filter": 'displayName eq "Sales"',
        "excludedAttributes": "members",
    }

    scim.clear()
    emulator.remove_member("Sales", linus)
    emulator.cycle(ids.job_id)

    group_patch = [r.body for r in scim.requests if r.path.startswith("/scim/Groups/")]
    removal = (
        {"op": "remove", "path": f'members[value eq "{scim_linus["id"]}"]'}
        if flag
        else {"op": "Remove", "path": "members", "value": [{"value": scim_linus["id"]}]}
    )
    assert group_patch == [
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [removal],
        }
    ]
    assert group["members"] == []
    assert scim_linus["active"] is False  # out of scope: disabled


def test_users_in_flight_are_bounded_by_concurrency(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    for n in range(20):
        emulator.add_user(userPrincipalName=f"extra{n}@contoso.example")
    emulator.config.concurrency = 3
    scim.delay = 0.02
    ids = _setup(emulator, graph_url, scim, scim_url, sync_all=True)

    summary = emulator.cycle(ids.job_id)

    assert summary["created"] == 25
    assert 2 <= scim.max_in_flight <= 3


def test_upn_rename_patches_user_name_through_the_cached_id(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace")
    emulator.cycle(ids.job_id)
    scim.clear()

    emulator.update_user(
        UPN.format("ada.lovelace"), userPrincipalName="ada.king@contoso.example"
    )
    emulator.cycle(ids.job_id)

    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in scim.requests][1:] == [
        ("GET", "Users"),  # userName eq the new UPN: no match
        ("GET", next(iter(scim.users))),  # the id cached at creation
        ("PATCH", next(iter(scim.users))),
    ]
    assert _patches(scim)[0]["Operations"] == [
        {"op": "Replace", "path": "userName", "value": "ada.king@contoso.example"}
    ]


def test_probe_answering_404_quarantines_as_incompatible(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace")
    scim.fail_next = [404]

    summary = emulator.cycle(ids.job_id)

    assert summary["quarantined"] is True
    assert summary["error"]["code"] == (
        "SystemForCrossDomainIdentityManagementServiceIncompatible"
    )
    assert scim.users == {}


def test_skip_out_of_scope_deletions(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url)
    assignment = assign(
        graph_url, ids.sp_id, emulator.user(UPN.format("ada.lovelace")).id
    )
    secrets = {"value": [{"key": "SkipOutOfScopeDeletions", "value": "True"}]}
    HTTP.put(
        f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}/synchronization/secrets",
        json=secrets,
    )
    emulator.cycle(ids.job_id)

    unassign(graph_url, ids.sp_id, assignment)
    summary = emulator.cycle(ids.job_id)

    assert (summary["disabled"], summary["writes"]) == (0, 0)
    user = scim.by_user_name(UPN.format("ada.lovelace"))
    assert user is not None
    assert user["active"] is True


def test_failed_disable_is_retried_next_cycle(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = _setup(emulator, graph_url, scim, scim_url)
    assignment = assign(
        graph_url, ids.sp_id, emulator.user(UPN.format("ada.lovelace")).id
    )
    emulator.cycle(ids.job_id)
    unassign(graph_url, ids.sp_id, assignment)

    scim.fail_next = [None, None, 500]  # probe, lookup, then the PATCH fails
    failed = emulator.cycle(ids.job_id)
    retried = emulator.cycle(ids.job_id)

    assert (failed["failed"], retried["disabled"]) == (1, 1)
    user = scim.by_user_name(UPN.format("ada.lovelace"))
    assert user is not None
    assert user["active"] is False


def test_object_add_only_default_value_and_flow_types(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    def edit(schema: dict[str, Any]) -> dict[str, Any]:
        from .tenant_setup import prompt_schema

        schema = prompt_schema(schema)
        users = schema["synchronizationRules"][0]["objectMappings"][1]
        users["flowTypes"] = "Add, Update"  # no Delete
        for mapping in users["attributeMappings"]:
            if mapping["targetAttributeName"] == "displayName":
                mapping["flowType"] = "ObjectAddOnly"
            if mapping["targetAttributeName"] == 'emails[type eq "work"].value':
                mapping["defaultValue"] = "nobody@contoso.example"
        return schema

    emulator.add_user(userPrincipalName="no.mail@contoso.example", displayName="N M")
    ids = _setup(emulator, graph_url, scim, scim_url, "ada.lovelace", edit=edit)
    assign(graph_url, ids.sp_id, emulator.user("no.mail@contoso.example").id)
    emulator.cycle(ids.job_id)
    posted = {r.body["userName"]: r.body for r in scim.requests if r.method == "POST"}
    ada = UPN.format("ada.lovelace")

    emulator.update_user(ada, displayName="Ada King")  # ObjectAddOnly: not sent
    emulator.update_user("no.mail@contoso.example", givenName="Nora")
    emulator.hard_delete_user(ada)  # the mapping does not allow Delete
    scim.clear()
    summary = emulator.cycle(ids.job_id)

    assert posted["no.mail@contoso.example"]["emails"][0]["value"] == (
        "nobody@contoso.example"  # defaultValue, on create only
    )
    assert posted[ada]["displayName"] == "Ada Lovelace"
    assert [(r.method, r.body["Operations"]) for r in scim.writes()] == [
        ("PATCH", [{"op": "Add", "path": "name.givenName", "value": "Nora"}])
    ]
    assert (summary["deleted"], summary["skipped"]) == (0, 1)
    user = scim.by_user_name(ada)
    assert user is not None
    assert user["displayName"] == "Ada Lovelace"
