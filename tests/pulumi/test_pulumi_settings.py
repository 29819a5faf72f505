"""Stack config (`prompt:*`): which organisation file, which token, which Graph."""

from __future__ import annotations

import pytest
from pulumi_harness import CHECK, FIXTURES, PROMPT_SIDE, SCHEMA, run_program

from prompt_pulumi.errors import ScimTokenUnavailable, StackConfigInvalid
from provisioning.errors import OrganisationFileInvalid, SecretUnavailable


def test_relative_organisation_file_is_read_from_the_project_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPT_SCIM_TOKEN_ACME", "t")
    monkeypatch.chdir(FIXTURES)
    config = {"prompt:organisationFile": "tests/pulumi/fixtures/acme.yaml"}

    run = run_program("production-acme", config)

    assert run.one(SCHEMA).name == "acme-synchronization-schema"


def test_graph_base_url_defaults_to_microsoft_graph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPT_SCIM_TOKEN_ACME", "t")
    config = {"prompt:organisationFile": str(FIXTURES / "acme.yaml")}

    run = run_program("acme", config)

    assert run.one(CHECK).inputs["graph_base_url"] == "https://graph.microsoft.com/v1.0"


def test_prompt_side_can_be_switched_off_with_a_config_token() -> None:
    config = {
        "prompt:managePromptOrganisation": "false",
        "prompt:scimToken": "from-config",
    }

    run = run_program("example", config, secret_keys=("prompt:scimToken",))

    assert run.all(PROMPT_SIDE) == []


@pytest.mark.parametrize(
    ("stack", "config", "error", "words"),
    [
        (
            "acme",
            {"prompt:organisationFile": "organisations/missing.yaml"},
            StackConfigInvalid,
            "pulumi config set prompt:organisationFile",
        ),
        ("no-such-org", {}, StackConfigInvalid, "organisations/no-such-org.yaml"),
        (
            "broken",
            {"prompt:organisationFile": str(FIXTURES / "invalid.yaml")},
            OrganisationFileInvalid,
            "tenant_id",
        ),
        (
            "acme",
            {"prompt:organisationFile": str(FIXTURES / "acme.yaml")},
            SecretUnavailable,
            "PROMPT_SCIM_TOKEN_ACME",
        ),
        (
            "example",
            {"prompt:managePromptOrganisation": "false"},
            ScimTokenUnavailable,
            "prompt:scimToken",
        ),
    ],
)
def test_bad_stack_config_stops_the_program_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
    stack: str,
    config: dict[str, str],
    error: type[Exception],
    words: str,
) -> None:
    monkeypatch.delenv("PROMPT_SCIM_TOKEN_ACME", raising=False)

    with pytest.raises(error, match=words):
        run_program(stack, config)
