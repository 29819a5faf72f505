"""`prompt-provision apply/plan` against the Entra emulator and the SCIM service.

Both run for real on loopback; the emulator counts Graph writes and injects faults.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from provisioning.spec import DEFAULT_USER_ATTRIBUTES

from .engine_support import Graph, PromptService, example_for
from .engine_support import run_cli as run

USER_ROLE = "User"


@pytest.fixture
def org_file(tmp_path: Path, prompt_service: PromptService) -> Path:
    return example_for(tmp_path, prompt_service)


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return items[0]


def user_mapping(schema: dict[str, Any]) -> dict[str, Any]:
    mappings = schema["synchronizationRules"][0]["objectMappings"]
    return only([m for m in mappings if m["sourceObjectName"] == "User"])


def group_mapping(schema: dict[str, Any]) -> dict[str, Any]:
    mappings = schema["synchronizationRules"][0]["objectMappings"]
    return only([m for m in mappings if m["sourceObjectName"] == "Group"])


def test_apply_example_sets_up_entra_and_prompt(
    graph: Graph, prompt_service: PromptService, org_file: Path
) -> None:
    assert run(graph, "apply", str(org_file)) == 0

    state = graph.emulator.state()
    app = only(state["applications"])
    sp = only(state["servicePrincipals"])
    job = only(state["jobs"])
    assert app["displayName"] == "Prompt (Example Health)"
    assert "prompt-provisioning:example" in sp["tags"]
    assert any(t.startswith("prompt-secrets:v1:tok_") for t in sp["tags"])
    assert job["templateId"] == "scim"
    assert job["schedule"]["state"] == "Active"

    secrets = graph.emulator.secret_values(sp["id"])
    assert secrets["BaseAddress"] == prompt_service.scim_url
    assert secrets["SyncAll"] == "false"
    assert json.loads(secrets["SyncNotificationSettings"])["Recipients"] == (
        "it-ops@example.org"
    )
    organisation, token = prompt_service.store.authenticate(secrets["SecretToken"])
    assert organisation.slug == "example"
    assert token.id in " ".join(sp["tags"])

    schema = job["schema"]
    assert group_mapping(schema)["enabled"] is False
    users = user_mapping(schema)["attributeMappings"]
    assert sorted(m["targetAttributeName"] for m in users) == sorted(
        DEFAULT_USER_ATTRIBUTES
    )
    external = only([m for m in users if m["targetAttributeName"] == "externalId"])
    assert external["source"]["expression"] == "[objectId]"
    matching = [m["targetAttributeName"] for m in users if m["matchingPriority"] == 1]
    assert matching == ["userName"]

    role = only([r for r in sp["appRoles"] if r["displayName"] == USER_ROLE])
    assigned = {
        (a["principalDisplayName"], a["appRoleId"]) for a in state["assignments"]
    }
    assert assigned == {("Alice Adams", role["id"]), ("Prompt Users", role["id"])}

    org = prompt_service.store.get_organisation("example")
    assert org.tenant_id == "11111111-2222-3333-4444-555555555555"
    assert (org.sso_enabled, org.provisioning_enabled) == (True, True)
    assert (org.default_department, org.default_section) == ("Nursing", "Ward 3")


def test_second_apply_makes_no_writes(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    tokens_before = prompt_service.store.list_tokens("example")
    graph.emulator.reset_writes()
    capsys.readouterr()

    assert run(graph, "apply", str(org_file)) == 0
    assert run(graph, "plan", "--detailed-exitcode", str(org_file)) == 0

    assert graph.emulator.writes()["total"] == 0
    assert prompt_service.store.list_tokens("example") == tokens_before
    out = capsys.readouterr().out
    assert "no changes" in out
    assert "Plan: 0 change(s) in 1 organisation(s)." in out


def _enable_groups(graph: Graph) -> None:
    job = only(list(graph.emulator.jobs.values()))
    group_mapping(job.schema)["enabled"] = True


def _edit_external_id(graph: Graph) -> None:
    job = only(list(graph.emulator.jobs.values()))
    for mapping in user_mapping(job.schema)["attributeMappings"]:
        if mapping["targetAttributeName"] == "externalId":
            mapping["source"] = {
                "type": "Attribute",
                "name": "mailNickname",
                "expression": "[mailNickname]",
                "parameters": [],
            }


def _unassign_alice(graph: Graph) -> None:
    assignments = graph.emulator.assignments
    (aid,) = [
        a for a, v in assignments.items() if v["principalDisplayName"] == "Alice Adams"
    ]
    del assignments[aid]


def _scope_all(graph: Graph) -> None:
    (secrets,) = graph.emulator.secrets.values()
    for pair in secrets:
        if pair["key"] == "SyncAll":
            pair["value"] = "true"


def _pause(graph: Graph) -> None:
    job = only(list(graph.emulator.jobs.values()))
    job.schedule_state = "Paused"
    job.status_code = "Paused"


DRIFT = [
    ("groups mapping re-enabled", _enable_groups, "Groups object mapping is enabled"),
    ("mapping edited", _edit_external_id, "externalId maps from [mailNickname]"),
    ("user unassigned", _unassign_alice, "assign assignments: user alice@example.org"),
    ("scope switched to all", _scope_all, "SyncAll was true"),
    ("provisioning paused", _pause, "start job-state"),
]


@pytest.mark.parametrize(("name", "drift", "shown"), DRIFT, ids=[d[0] for d in DRIFT])
def test_portal_drift_is_planned_and_reverted(
    graph: Graph,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    drift: Any,
    shown: str,
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    with graph.emulator.lock:
        drift(graph)
    capsys.readouterr()

    assert run(graph, "plan", "--detailed-exitcode", str(org_file)) == 2
    assert shown in capsys.readouterr().out
    assert run(graph, "apply", str(org_file)) == 0

    graph.emulator.reset_writes()
    assert run(graph, "plan", "--detailed-exitcode", str(org_file)) == 0
    assert run(graph, "apply", str(org_file)) == 0
    assert graph.emulator.writes()["total"] == 0
    job = only(graph.emulator.state()["jobs"])
    assert group_mapping(job["schema"])["enabled"] is False
    assert job["schedule"]["state"] == "Active"
    assert len(graph.emulator.state()["assignments"]) == 2


FAULTS = [
    pytest.param(
        {"kind": "replication", "method": "POST", "seconds": 1.0,
         "path": "/applicationTemplates/*/instantiate"},
        id="replication delay",
    ),
    pytest.param(
        {"status": 429, "count": 2, "retry_after": 1, "method": "PUT",
         "path": "/servicePrincipals/*/synchronization/jobs/*/schema"},
        id="429 with Retry-After on a write",
    ),
    pytest.param(
        {"status": 429, "count": 1, "retry_after": 1, "method": "GET",
         "path": "/servicePrincipals"},
        id="429 with Retry-After on a read",
    ),
    pytest.param(
        {"status": 403, "count": 2, "method": "POST",
         "path": "/servicePrincipals/*/synchronization/jobs"},
        id="transient 403",
    ),
    pytest.param(
        {"status": 409, "count": 2, "method": "PUT",
         "path": "/servicePrincipals/*/synchronization/secrets"},
        id="transient 409",
    ),
    pytest.param(
        {"status": 503, "count": 2, "retry_after": 1, "method": "GET",
         "path": "/servicePrincipals/*/synchronization/jobs"},
        id="transient 503 with Retry-After",
    ),
    pytest.param(
        {"status": 503, "count": 1, "retry_after": 1, "method": "POST",
         "path": "/servicePrincipals/*/appRoleAssignedTo"},
        id="transient 503 on an assignment",
    ),
]  # fmt: skip


@pytest.mark.parametrize("fault", FAULTS)
def test_apply_survives_faults(
    graph: Graph, org_file: Path, fault: dict[str, Any]
) -> None:
    graph.emulator.add_fault(**fault)

    assert run(graph, "apply", str(org_file)) == 0
    left = [f for f in graph.emulator.state()["faults"] if f["kind"] == "status"]
    assert left == [], "the fault was never hit"

    state = graph.emulator.state()
    assert len(state["applications"]) == 1
    assert only(state["jobs"])["schedule"]["state"] == "Active"
    assert len(state["assignments"]) == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/servicePrincipals/*"),
        ("PUT", "/servicePrincipals/*/synchronization/jobs/*/schema"),
        ("POST", "/servicePrincipals/*/appRoleAssignedTo"),
        ("POST", "/servicePrincipals/*/synchronization/jobs/*/start"),
    ],
)
def test_interrupted_apply_resumes_without_duplicates(
    graph: Graph,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
    method: str,
    path: str,
) -> None:
    graph.emulator.add_fault(status=500, count=1, method=method, path=path)

    assert run(graph, "apply", str(org_file)) == 1
    err = capsys.readouterr().err
    assert "Error: 1 of 1 organisation(s) could not be applied: example" in err
    assert "Traceback" not in err

    assert run(graph, "apply", str(org_file)) == 0
    state = graph.emulator.state()
    assert len(state["applications"]) == 1
    assert len(state["servicePrincipals"]) == 1
    assert len(state["jobs"]) == 1
    assert len(state["assignments"]) == 2
    graph.emulator.reset_writes()
    assert run(graph, "apply", str(org_file)) == 0
    assert graph.emulator.writes()["total"] == 0


@pytest.mark.slow
def test_fifty_organisations_in_one_command(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "organisations"
    folder.mkdir()
    text = org_file.read_text()
    for index in range(50):
        slug = f"org-{index:02d}"
        folder.joinpath(f"{slug}.yaml").write_text(
            text.replace("organisation: example", f"organisation: {slug}").replace(
                "Example Health", f"Customer {index:02d}"
            )
        )

    assert run(graph, "apply", "--concurrency", "8", str(folder)) == 0

    state = graph.emulator.state()
    assert len(state["applications"]) == 50
    assert len({a["displayName"] for a in state["applications"]}) == 50
    assert all(j["schedule"]["state"] == "Active" for j in state["jobs"])
    assert len(prompt_service.store.list_organisations()) == 50
    assert capsys.readouterr().out.count("changed") == 50

    graph.emulator.reset_writes()
    assert run(graph, "apply", "--concurrency", "8", str(folder)) == 0
    assert graph.emulator.writes()["total"] == 0


def test_one_failing_organisation_does_not_stop_the_others(
    graph: Graph, org_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "organisations"
    folder.mkdir()
    text = org_file.read_text()
    folder.joinpath("good.yaml").write_text(
        text.replace("organisation: example", "organisation: good")
    )
    folder.joinpath("bad.yaml").write_text(
        text.replace("organisation: example", "organisation: bad").replace(
            "alice@example.org", "nobody@example.org"
        )
    )

    assert run(graph, "apply", str(folder)) == 1

    captured = capsys.readouterr()
    assert "Error: 1 of 2 organisation(s) could not be applied: bad" in captured.err
    assert "'nobody@example.org'" in captured.err
    names = [a["displayName"] for a in graph.emulator.state()["applications"]]
    assert names == ["Prompt (Example Health)"]


def test_code_issued_by_an_interrupted_apply_is_revoked_later(
    graph: Graph, prompt_service: PromptService, org_file: Path
) -> None:
    secrets_path = "/servicePrincipals/*/synchronization/secrets"
    graph.emulator.add_fault(status=500, count=1, method="PUT", path=secrets_path)
    assert run(graph, "apply", str(org_file)) == 1
    assert len(prompt_service.store.list_tokens("example")) == 1

    assert run(graph, "apply", str(org_file)) == 0

    live = [t for t in prompt_service.store.list_tokens("example") if not t.revoked]
    (sp,) = graph.emulator.state()["servicePrincipals"]
    _, held = prompt_service.store.authenticate(
        graph.emulator.secret_values(sp["id"])["SecretToken"]
    )
    assert [t.id for t in live] == [held.id]


def test_scope_change_issues_a_new_code_and_revokes_the_old(
    graph: Graph, prompt_service: PromptService, org_file: Path
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    (old,) = prompt_service.store.list_tokens("example")
    org_file.write_text(org_file.read_text().replace("scope: assigned", "scope: all"))

    assert run(graph, "apply", str(org_file)) == 0

    tokens = {t.id: t for t in prompt_service.store.list_tokens("example")}
    assert tokens[old.id].revoked is not None
    (new,) = [t for t in tokens.values() if t.revoked is None]
    (sp,) = graph.emulator.state()["servicePrincipals"]
    assert graph.emulator.secret_values(sp["id"])["SyncAll"] == "true"
    assert f"prompt-secrets:v1:{new.id}:" in " ".join(sp["tags"])


def test_failed_apply_names_the_organisation_once(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = example_for(tmp_path, prompt_service)
    text = path.read_text().replace("organisation: example", "organisation: epsilon")
    text = text.replace("  admin_url:", "  # admin_url:")
    path.write_text(text.replace("{issue: true}", "{env: PROMPT_TEST_CODE}"))
    monkeypatch.setenv("PROMPT_TEST_CODE", "pscim_not-a-code-of-epsilon")

    assert run(graph, "apply", str(path)) == 1

    captured = capsys.readouterr()
    assert "epsilon: validate credentials (Test Connection to " in captured.err
    assert "epsilon: epsilon" not in captured.out + captured.err
    assert re.search(r"│ epsilon +│ FAILED +│ - +│ validate credentials", captured.out)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_failed_plan_prints_no_summary_of_nothing(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    graph.emulator.add_fault(
        status=500, count=50, method="GET", path="/servicePrincipals"
    )

    assert run(graph, "plan", "--format", fmt, str(org_file)) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[-1] == (
        "Error: 1 of 1 organisation(s) could not be planned: example"
    )


def test_plan_of_a_folder_keeps_the_summary_of_what_was_planned(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = org_file.read_text().replace("organisation: example", "organisation: other")
    (org_file.parent / "other.yaml").write_text(
        text.replace("    - alice@example.org", "    - nobody@example.org")
    )

    assert run(graph, "plan", str(org_file.parent)) == 1

    captured = capsys.readouterr()
    assert "Plan: 10 change(s) in 1 organisation(s)." in captured.out
    assert "other: User 'nobody@example.org'" in captured.err
