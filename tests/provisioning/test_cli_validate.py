"""`prompt-provision validate` and `schema`: exit codes and messages."""

from __future__ import annotations

import json
import re
import shlex
import socket
from pathlib import Path

import pytest
import yaml

from provisioning.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_validate_example_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "organisations")]) == 0

    assert "example.yaml  (example)" in capsys.readouterr().out


def test_validate_bad_file_prints_error_lines_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "organisations" / "example.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("Nursing", "NO").replace("{issue: true}", "s3cr3t"))

    assert main(["validate", str(bad)]) == 1

    err = capsys.readouterr().err
    assert err.startswith("Error: 2 problems in organisation files")
    assert f"{bad}:33: prompt.token: a literal secret is not allowed" in err
    assert f"{bad}:35: prompt.default_department: YAML reads NO" in err
    assert "s3cr3t" not in err
    assert "Traceback" not in err


def test_validate_without_paths_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate"]) == 2

    assert "Missing argument" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error() -> None:
    assert main(["validate", "--nope", "x.yaml"]) == 2


def test_schema_command_prints_the_committed_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema"]) == 0

    printed = json.loads(capsys.readouterr().out)
    committed = json.loads((ROOT / "provisioning/organisation.schema.json").read_text())
    assert printed == committed


def _invocations() -> list[list[str]]:
    workflow = yaml.safe_load(
        (ROOT / "examples/gitops/prompt-provisioning.yml").read_text()
    )
    found = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            found += [
                shlex.split(line.split(">")[0])[1:]
                for line in script.splitlines()
                if line.strip().startswith("prompt-provision ")
            ]
    return found


def test_gitops_workflow_covers_validate_plan_apply_and_drift() -> None:
    commands = [" ".join(args) for args in _invocations()]

    assert any(c.startswith("validate") for c in commands)
    assert any("plan --format markdown --detailed-exitcode" in c for c in commands)
    assert any(" apply " in f" {c} " for c in commands)
    assert sum("--detailed-exitcode" in c for c in commands) == 2


@pytest.mark.parametrize("args", _invocations(), ids=" ".join)
def test_gitops_workflow_commands_parse(args: list[str]) -> None:
    # --help is eager: it exits 0 once every option given before it is known.
    assert main([*args, "--help"]) == 0


def _run_hook(changed: list[str]) -> int:
    """Run the hook the way pre-commit does (entry, args, then the file names)."""
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert re.match(hook["files"], "organisations/acme.yaml")
    assert not re.match(hook["files"], "provisioning/spec.py")

    program, *args = shlex.split(hook["entry"])
    assert program == "prompt-provision"
    args += hook.get("args", [])
    if hook.get("pass_filenames", True):
        args += [name for name in changed if re.match(hook["files"], name)]
    return main(args)


def test_pre_commit_hook_finds_a_slug_taken_by_an_unchanged_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (ROOT / "organisations" / "example.yaml").read_text()
    (tmp_path / "organisations").mkdir()
    (tmp_path / "organisations" / "example.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert _run_hook(["organisations/example.yaml"]) == 0

    copy = text.replace("Example Health", "Example Two")
    (tmp_path / "organisations" / "copy.yaml").write_text(copy)

    assert _run_hook(["organisations/copy.yaml"]) == 1
    assert "slug 'example' is already used by" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            [
                "--graph-url",
                "https://graph.example.com/v1.0",
                "--credential",
                "anonymous",
            ],
            "Credential 'anonymous' sends no token",
        ),
        (
            ["--graph-url", "http://graph.example.com/v1.0"],
            "must use https (plain http is allowed only on loopback",
        ),
    ],
)
def test_unsafe_graph_settings_are_usage_errors(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    example = str(ROOT / "organisations" / "example.yaml")

    assert main([*options, "plan", example]) == 2

    err = capsys.readouterr().err
    assert err.count("Error:") == 1
    assert err.splitlines()[-1].startswith("Error: Invalid value for '--")
    assert message in err


def test_traceback_only_with_debug(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_KEY", "k")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nowhere = f"http://127.0.0.1:{port}"
    graph = ["--graph-url", f"{nowhere}/v1.0", "--credential", "anonymous"]
    text = (ROOT / "organisations" / "example.yaml").read_text()
    example = str(tmp_path / "example.yaml")
    Path(example).write_text(text.replace("https://prompt.example.com", nowhere))

    assert main([*graph, "plan", example]) == 1
    quiet = capsys.readouterr().err
    assert main([*graph, "--debug", "plan", example]) == 1
    loud = capsys.readouterr().err

    assert "Error: 1 of 1 organisation(s) could not be planned: example" in quiet
    assert "Traceback" not in quiet
    assert "Traceback" in loud


def test_gitops_workflow_triggers_and_credentials() -> None:
    workflow = yaml.safe_load(
        (ROOT / "examples/gitops/prompt-provisioning.yml").read_text()
    )
    # PyYAML reads the key `on` as the boolean true (YAML 1.1).
    triggers = workflow.get("on", workflow.get(True))
    jobs = workflow["jobs"]

    assert triggers["push"]["branches"] == ["main"]
    assert "pull_request" in triggers
    assert triggers["schedule"][0]["cron"]
    assert "pull_request" in jobs["plan"]["if"]
    assert "github.event_name == 'push'" in jobs["apply"]["if"]
    assert "schedule" in jobs["drift"]["if"]
    comment = [s for s in jobs["plan"]["steps"] if "github-script" in s.get("uses", "")]
    assert "createComment" in comment[0]["with"]["script"]
    for name in ("plan", "apply", "drift"):
        assert jobs[name]["permissions"]["id-token"] == "write"
        runs = " ".join(step.get("run", "") for step in jobs[name]["steps"])
        assert "--credential workload-identity" in runs
        assert "AZURE_FEDERATED_TOKEN_FILE" in runs


def test_gitops_workflow_limits_where_the_admin_key_goes() -> None:
    workflow = yaml.safe_load(
        (ROOT / "examples/gitops/prompt-provisioning.yml").read_text()
    )

    # The plan job runs on pull requests with the admin key: the allowed origins
    # must come from a repository variable, not from the pull request's files.
    for name, job in workflow["jobs"].items():
        env = {**workflow.get("env", {}), **job.get("env", {})}
        if "PROMPT_SCIM_ADMIN_KEY" in env:
            origins = env.get("PROMPT_SCIM_ADMIN_ORIGINS", "")
            assert origins == "${{ vars.PROMPT_SCIM_ADMIN_ORIGINS }}", name
