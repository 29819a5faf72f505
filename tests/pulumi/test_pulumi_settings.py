"""Stack config (`prompt:*`): which organisation file, which token, which Graph."""

from __future__ import annotations

import pytest
import yaml

from prompt_pulumi.errors import ScimTokenUnavailable, StackConfigInvalid
from provisioning.errors import OrganisationFileInvalid, SecretUnavailable

from .pulumi_harness import CHECK, FIXTURES, PROMPT_SIDE, ROOT, SCHEMA, run_program


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


def test_project_file_points_at_the_program_and_the_virtualenv() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())

    # The project name is the config namespace the program reads (prompt:*).
    assert project["name"] == "prompt"
    assert (ROOT / project["main"] / "__main__.py").is_file()
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
    assert "config" not in project


def test_example_stack_file_runs_the_program() -> None:
    stack_file = yaml.safe_load((ROOT / "Pulumi.example.yaml").read_text())
    config = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in stack_file["config"].items()
    }

    run = run_program("example", config)

    assert run.one(CHECK).inputs["graph_base_url"] == config["prompt:graphBaseUrl"]
    assert run.one(PROMPT_SIDE).inputs["slug"] == "example"
