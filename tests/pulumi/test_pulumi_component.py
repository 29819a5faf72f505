"""The Pulumi program under the SDK's mocks: resource graph, inputs, order, secrets."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc

from prompt_pulumi.component import pick_user_role

from .pulumi_harness import (
    APP_ID,
    APP_OBJECT_ID,
    APPLICATION,
    ASSIGNMENT,
    CHECK,
    FIXTURES,
    ISSUED_TOKEN,
    JOB,
    JOB_ID,
    PROMPT_SIDE,
    ROOT,
    SCHEMA,
    SECRET,
    SERVICE_PRINCIPAL,
    SP_OBJECT_ID,
    START,
    USER_ROLE_ID,
    ProgramRun,
    principal_id,
    run_program,
    secret_value,
)

ENV_TOKEN = "token-from-the-environment"

# Every credential the program or the providers could read, each a value that
# must appear in no resource input (inputs and __provider land in the state).
CREDENTIALS = {
    "AZURE_CLIENT_ID": "sentinel-azure-client-id-5f1c",
    "AZURE_CLIENT_SECRET": "sentinel-azure-client-secret-8e2a",
    "AZURE_TENANT_ID": "sentinel-azure-tenant-id-3b7d",
    "AZURE_FEDERATED_TOKEN_FILE": "/sentinel/federated-token-file-9c4e",
    "ARM_CLIENT_SECRET": "sentinel-arm-client-secret-1d6f",
    "ARM_OIDC_TOKEN": "sentinel-arm-oidc-token-7a0b",
    "PROMPT_SCIM_ADMIN_KEY": "sentinel-prompt-admin-key-2e9c",
}


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> ProgramRun:
    monkeypatch.setenv("PROMPT_SCIM_TOKEN_ACME", ENV_TOKEN)
    config = {
        "prompt:organisationFile": str(FIXTURES / "acme.yaml"),
        "prompt:graphBaseUrl": "http://127.0.0.1:8765/v1.0/",
    }
    return run_program("acme", config)


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ProgramRun:
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_KEY", "admin-key-not-an-input")
    # No organisationFile: the stack name is the slug (organisations/example.yaml).
    return run_program("example", {})


def test_registers_the_manual_procedure_as_resources(acme: ProgramRun) -> None:
    types = sorted(r.type for r in acme.registered)

    assert types == sorted(
        [
            "prompt:index:Organisation",
            APPLICATION,
            SERVICE_PRINCIPAL,
            SECRET,
            JOB,
            CHECK,
            SCHEMA,
            START,
            ASSIGNMENT,
            ASSIGNMENT,
            ASSIGNMENT,
        ]
    )
    component = acme.one("prompt:index:Organisation")
    children = [r for r in acme.registered if r is not component]
    assert {r.parent for r in children} == {component.urn}


def test_application_comes_from_the_non_gallery_template(acme: ProgramRun) -> None:
    application = acme.one(APPLICATION)

    assert application.inputs == {
        "displayName": "Prompt (Acme Health)",
        "templateId": "8adf8e6e-67b2-4cf2-a259-e3dc5476c621",
    }


def test_service_principal_is_adopted_marked_and_retained(acme: ProgramRun) -> None:
    sp = acme.one(SERVICE_PRINCIPAL)

    assert sp.inputs["clientId"] == APP_ID
    assert sp.inputs["useExisting"] is True
    assert sp.inputs["appRoleAssignmentRequired"] is True
    assert "prompt-provisioning:acme" in sp.inputs["tags"]
    assert "WindowsAzureActiveDirectoryIntegratedApp" in sp.inputs["tags"]
    assert sp.retain_on_delete
    assert acme.depends_on(sp, acme.one(APPLICATION))


def test_secret_holds_url_token_scope_and_notifications(acme: ProgramRun) -> None:
    secret = acme.one(SECRET)
    wire = secret.inputs["credentials"]
    values = {item["key"]: item["value"] for item in wire}

    assert secret.inputs["servicePrincipalId"] == f"/servicePrincipals/{SP_OBJECT_ID}"
    assert values["BaseAddress"] == "https://prompt.example.com/scim/v2"
    assert secret_value(values["SecretToken"]) == ENV_TOKEN
    assert values["SyncAll"] == "false"
    assert json.loads(values["SyncNotificationSettings"])["Recipients"] == (
        "it-ops@acme.example"
    )


def test_job_is_created_stopped_after_the_secret(acme: ProgramRun) -> None:
    job = acme.one(JOB)

    assert job.inputs == {
        "servicePrincipalId": f"/servicePrincipals/{SP_OBJECT_ID}",
        "templateId": "scim",
        "enabled": False,
    }
    assert acme.one(SECRET).urn in job.dependencies
    # The start resource owns the running state; azuread must not undo it.
    assert job.ignore_changes == ["enabled"]


def test_dynamic_resources_get_bare_ids_and_no_credentials(acme: ProgramRun) -> None:
    for type_ in (CHECK, SCHEMA, START):
        inputs = acme.one(type_).inputs

        assert inputs["service_principal_id"] == SP_OBJECT_ID
        assert inputs["application_object_id"] == APP_OBJECT_ID
        assert inputs["app_id"] == APP_ID
        assert inputs["job_id"] == JOB_ID
        assert inputs["tenant_id"] == "11111111-2222-3333-4444-555555555555"
        assert inputs["graph_base_url"] == "http://127.0.0.1:8765/v1.0"
        text = json.dumps({k: v for k, v in inputs.items() if k != "__provider"})
        assert "AZURE_" not in text
        assert "admin" not in text.lower()


def test_schema_carries_the_configured_mappings(acme: ProgramRun) -> None:
    schema = acme.one(SCHEMA)

    assert schema.inputs["groups"] is False
    assert schema.inputs["matching"] == "userName"
    assert schema.inputs["user_attributes"]["externalId"] == "objectId"
    assert set(schema.inputs["user_attributes"]) == {
        "userName",
        "active",
        "displayName",
        "name.givenName",
        "name.familyName",
        'emails[type eq "work"].value',
        "externalId",
    }


def test_credential_check_token_is_secret(acme: ProgramRun) -> None:
    check = acme.one(CHECK)

    assert secret_value(check.inputs["token"]) == ENV_TOKEN
    assert check.inputs["base_address"] == "https://prompt.example.com/scim/v2"
    assert check.additional_secret_outputs == ["token_fingerprint"]


def test_order_of_the_manual_procedure_holds(acme: ProgramRun) -> None:
    secret, job = acme.one(SECRET), acme.one(JOB)
    check, schema, start = acme.one(CHECK), acme.one(SCHEMA), acme.one(START)

    assert acme.depends_on(job, secret)
    assert acme.depends_on(check, job)
    assert acme.depends_on(schema, check)
    assert acme.depends_on(start, schema)
    for assignment in acme.all(ASSIGNMENT):
        assert schema.urn in assignment.dependencies
        assert assignment.urn in start.dependencies
    assert not acme.depends_on(schema, start)


def test_one_assignment_per_principal_with_the_user_role(acme: ProgramRun) -> None:
    assignments = {r.name: r.inputs for r in acme.all(ASSIGNMENT)}

    assert set(assignments) == {
        "acme-user-alice@acme.example",
        "acme-user-bob@acme.example",
        "acme-group-prompt-users",
    }
    principals = {a["principalObjectId"] for a in assignments.values()}
    assert principals == {
        principal_id("user", "alice@acme.example"),
        principal_id("user", "bob@acme.example"),
        principal_id("group", "Prompt Users"),
    }
    for inputs in assignments.values():
        assert inputs["appRoleId"] == USER_ROLE_ID
        assert inputs["resourceObjectId"] == SP_OBJECT_ID


def test_principals_are_looked_up_by_upn_and_display_name(acme: ProgramRun) -> None:
    lookups = {
        (c.token.split(":")[-1], tuple(sorted(c.args.items()))) for c in acme.calls
    }

    assert ("getUser", (("userPrincipalName", "Bob@Acme.example"),)) in lookups
    assert ("getGroup", (("displayName", "Prompt Users"),)) in lookups


def test_stack_outputs(acme: ProgramRun) -> None:
    assert acme.outputs == {
        "application_id": APP_ID,
        "application_object_id": APP_OBJECT_ID,
        "service_principal_id": SP_OBJECT_ID,
        "job_id": JOB_ID,
        "scim_url": "https://prompt.example.com/scim/v2",
        "assignment_count": 3,
    }


def test_stack_exports_the_ids_the_url_and_the_assignment_count(
    acme: ProgramRun,
) -> None:
    # What `pulumi stack output` shows; README and the issue name these keys.
    assert acme.exports == {
        "organisation": "acme",
        "applicationId": APP_ID,
        "applicationObjectId": APP_OBJECT_ID,
        "servicePrincipalId": SP_OBJECT_ID,
        "jobId": JOB_ID,
        "scimUrl": "https://prompt.example.com/scim/v2",
        "assignmentCount": 3,
    }


def plain_strings(wire: Any) -> Iterator[str]:
    """Every string in wire-form inputs that is not inside a secret."""
    if isinstance(wire, dict):
        if wire.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return
        for value in wire.values():
            yield from plain_strings(value)
    elif isinstance(wire, list):
        for value in wire:
            yield from plain_strings(value)
    elif isinstance(wire, str):
        yield wire


@pytest.mark.parametrize("stack", ["acme", "example"])
def test_no_credential_is_a_resource_input(
    monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PROMPT_SCIM_TOKEN_ACME", ENV_TOKEN)
    config = {"prompt:organisationFile": str(FIXTURES / "acme.yaml")}

    run = run_program(stack, config if stack == "acme" else {})

    assert run.all(CHECK), "no dynamic resource registered"
    for resource in run.registered:
        text = json.dumps(resource.inputs)
        # A provider that captured a credential would carry it in its pickle.
        blob = resource.inputs.get("__provider")
        pickled = base64.b64decode(secret_value(blob)) if blob else b""
        for name, value in CREDENTIALS.items():
            assert value not in text, f"{name} is an input of {resource.name}"
            assert value.encode() not in pickled, f"{name} in {resource.name}"


@pytest.mark.parametrize("stack", ["acme", "example"])
def test_the_scim_token_is_a_secret_wherever_it_is_an_input(
    monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_KEY", "k")
    monkeypatch.setenv("PROMPT_SCIM_TOKEN_ACME", ENV_TOKEN)
    config = {"prompt:organisationFile": str(FIXTURES / "acme.yaml")}
    token = ENV_TOKEN if stack == "acme" else ISSUED_TOKEN

    run = run_program(stack, config if stack == "acme" else {})

    holders = [r.name for r in run.registered if token in json.dumps(r.inputs)]
    assert sorted(holders) == [
        f"{stack}-credential-check",
        f"{stack}-synchronization-secret",
    ]
    for resource in run.registered:
        assert token not in plain_strings(resource.inputs), resource.name


def test_example_graph_has_every_child_in_the_manual_order(
    example: ProgramRun,
) -> None:
    prompt_side, app = example.one(PROMPT_SIDE), example.one(APPLICATION)
    secret, job = example.one(SECRET), example.one(JOB)
    check, schema, start = example.one(CHECK), example.one(SCHEMA), example.one(START)
    assignments = {r.name: r.inputs for r in example.all(ASSIGNMENT)}

    assert example.one(SERVICE_PRINCIPAL).retain_on_delete
    assert app.inputs["templateId"] == "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
    assert job.inputs["enabled"] is False
    assert secret.urn in job.dependencies
    assert example.depends_on(secret, prompt_side)
    assert example.depends_on(check, job)
    assert example.depends_on(schema, check)
    for assignment in example.all(ASSIGNMENT):
        assert schema.urn in assignment.dependencies
        assert example.depends_on(start, assignment)
    assert set(assignments) == {
        "example-user-alice@example.org",
        "example-group-prompt-users",
    }
    assert {a["principalObjectId"] for a in assignments.values()} == {
        principal_id("user", "alice@example.org"),
        principal_id("group", "Prompt Users"),
    }
    assert {a["appRoleId"] for a in assignments.values()} == {USER_ROLE_ID}
    assert example.exports["assignmentCount"] == 2
    assert example.exports["scimUrl"] == "https://prompt.example.com/scim/v2"


USER = {"displayName": "User", "id": USER_ROLE_ID, "enabled": True, "value": None}
MSIAM = {"displayName": "msiam_access", "id": "m", "enabled": True, "value": None}


@pytest.mark.parametrize(
    "roles",
    [
        [MSIAM, USER],
        [USER, MSIAM],
        # A role whose value is "User" is not the one: the display name decides.
        [{**MSIAM, "value": "User"}, USER],
        [{**USER, "id": "disabled", "enabled": False}, USER],
    ],
)
def test_user_role_is_chosen_by_display_name(roles: list[dict[str, Any]]) -> None:
    assert pick_user_role(roles) == USER_ROLE_ID


def test_missing_user_role_names_the_roles_and_the_template() -> None:
    with pytest.raises(ValueError, match=r"has: User \(disabled\), msiam_access"):
        pick_user_role([MSIAM, {**USER, "enabled": False}])
    with pytest.raises(ValueError, match="has: none") as failure:
        pick_user_role([])

    assert "8adf8e6e-67b2-4cf2-a259-e3dc5476c621" in str(failure.value)


def test_prompt_side_is_not_managed_without_admin_url(acme: ProgramRun) -> None:
    assert acme.all(PROMPT_SIDE) == []


def test_example_issues_the_token_through_the_prompt_side(example: ProgramRun) -> None:
    prompt_side = example.one(PROMPT_SIDE)
    secret = example.one(SECRET)
    values = {item["key"]: item["value"] for item in secret.inputs["credentials"]}

    assert prompt_side.inputs["slug"] == "example"
    assert prompt_side.inputs["issue_token"] is True
    assert prompt_side.inputs["default_department"] == "Nursing"
    assert prompt_side.additional_secret_outputs == ["token"]
    assert secret_value(values["SecretToken"]) == ISSUED_TOKEN
    assert example.depends_on(secret, prompt_side)
    assert "PROMPT_SCIM_ADMIN_KEY" not in json.dumps(prompt_side.inputs)
    assert "admin-key-not-an-input" not in json.dumps(prompt_side.inputs)


def test_example_stack_uses_organisations_example_yaml(example: ProgramRun) -> None:
    application = example.one(APPLICATION)

    assert (ROOT / "organisations" / "example.yaml").is_file()
    assert application.inputs["displayName"] == "Prompt (Example Health)"
    assert example.outputs["assignment_count"] == 2


def test_config_token_overrides_the_file_and_is_secret() -> None:
    config = {
        "prompt:scimToken": "token-from-stack-config",
        "prompt:managePromptOrganisation": "false",
    }
    run = run_program("example", config, secret_keys=("prompt:scimToken",))
    values = {
        item["key"]: item["value"] for item in run.one(SECRET).inputs["credentials"]
    }

    assert secret_value(values["SecretToken"]) == "token-from-stack-config"
    assert run.all(PROMPT_SIDE) == []


def test_scope_all_groups_on_and_provisioning_off_reach_the_resources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPT_SCIM_TOKEN_ACME", ENV_TOKEN)
    text = (FIXTURES / "acme.yaml").read_text()
    text = text.replace("  scope: assigned\n  groups: false\n", "")
    text = text.replace("  notification_email: it-ops@acme.example\n", "")
    text = text.replace(
        "provisioning:\n",
        "provisioning:\n  scope: all\n  groups: true\n  enabled: false\n",
    )
    path = tmp_path / "acme.yaml"
    path.write_text(text)

    run = run_program("acme", {"prompt:organisationFile": str(path)})
    credentials = run.one(SECRET).inputs["credentials"]
    values = {item["key"]: item["value"] for item in credentials}

    assert values["SyncAll"] == "true"
    assert json.loads(values["SyncNotificationSettings"]) == {
        "Enabled": False,
        "Recipients": "",
    }
    assert run.one(SCHEMA).inputs["groups"] is True
    assert run.one(START).inputs["enabled"] is False
