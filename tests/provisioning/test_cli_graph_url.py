"""--graph-url and --credential: bad values are usage errors; a non-Graph URL is named.

A Graph URL without /v1.0, or one leading to another HTTP server, used to end in
"Graph answered 404 UnknownError" with nothing pointing at the option.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.cli import main

from .engine_support import FAST, Graph, PromptService, example_for


@pytest.fixture
def org_file(tmp_path: Path, prompt_service: PromptService) -> Path:
    return example_for(tmp_path, prompt_service)


def cli(graph_url: str, *args: str, credential: str = "anonymous") -> int:
    return main(
        ["--graph-url", graph_url, "--credential", credential, *args], timings=FAST
    )


@pytest.mark.parametrize(
    ("suffix", "command"),
    [("", "plan"), ("/", "apply"), ("/v2", "status"), ("/graph", "destroy")],
)
def test_graph_url_without_the_api_version_is_a_usage_error(
    graph: Graph,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
    command: str,
) -> None:
    root = graph.url.removesuffix("/v1.0")
    args = [command, str(org_file)] + (["--yes"] if command == "destroy" else [])

    assert cli(root + suffix, *args) == 2

    err = capsys.readouterr().err
    assert err.count("Error:") == 1
    assert "Error: Invalid value for '--graph-url': " in err
    assert "must end in the API version /v1.0" in err
    assert graph.emulator.state()["applications"] == []
    assert dict(graph.emulator.request_counts) == {}


def test_graph_url_of_another_server_hints_at_the_option(
    prompt_service: PromptService, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The SCIM service answers 404 to /v1.0/servicePrincipals: not Graph.
    other = f"{prompt_service.url}/v1.0"

    assert cli(other, "plan", str(org_file)) == 1

    err = capsys.readouterr().err
    assert "Graph answered 404" in err
    assert "Is --graph-url right? Graph answers a query that matches nothing" in err
    assert f"{other} does not lead to Microsoft Graph" in err


def test_a_missing_object_gets_no_graph_url_hint(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(graph.url, "apply", str(org_file)) == 0
    capsys.readouterr()

    assert cli(graph.url, "provision-now", str(org_file), "--user", "zed@x.org") == 1

    assert "--graph-url" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("graph_url", "credential", "option"),
    [
        ("http://graph.example.com/v1.0", "default", "--graph-url"),
        ("https://graph.example.com/v1.0", "anonymous", "--credential"),
    ],
)
def test_option_values_refused_exit_2_before_any_file_is_planned(
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
    graph_url: str,
    credential: str,
    option: str,
) -> None:
    assert (
        cli(
            graph_url,
            "plan",
            "--detailed-exitcode",
            str(org_file),
            credential=credential,
        )
        == 2
    )

    err = capsys.readouterr().err
    assert err.count("Error:") == 1
    assert f"Error: Invalid value for '{option}': " in err
    assert "Plan:" not in err
