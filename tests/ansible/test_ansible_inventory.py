"""The prompt_organisations inventory: one local host per organisation file."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .ansible_support import ansible_runner, organisation_yaml

INVENTORY = "playbooks/inventory/organisations.yml"


@pytest.fixture
def run_ansible(tmp_path: Path) -> Callable[..., Any]:
    return ansible_runner(tmp_path)


@pytest.fixture
def organisations_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "organisations"
    folder.mkdir()
    return folder


def inventory(run_ansible: Callable[..., Any], folder: Path) -> dict[str, Any]:
    run = run_ansible(
        "ansible-inventory",
        "-i",
        INVENTORY,
        "--list",
        env={"PROMPT_ORGANISATIONS_PATH": str(folder)},
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout, object_hook=_safe)
    return result


def _safe(value: dict[str, Any]) -> Any:
    # ansible-inventory --list marks inventory strings {"__ansible_unsafe": ...}.
    return value.get("__ansible_unsafe", value) if len(value) == 1 else value


def test_one_local_host_per_organisation(
    run_ansible: Callable[..., Any], organisations_dir: Path
) -> None:
    for slug in ("acme", "globex", "initech"):
        (organisations_dir / f"{slug}.yaml").write_text(organisation_yaml(slug))
    (organisations_dir / "notes.txt").write_text("not an organisation")
    (organisations_dir / ".#acme.yaml").write_text("an editor's lock file")

    listed = inventory(run_ansible, organisations_dir)

    assert "prompt_organisations_invalid" not in listed

    assert sorted(listed["prompt_organisations"]["hosts"]) == [
        "acme",
        "globex",
        "initech",
    ]
    acme = listed["_meta"]["hostvars"]["acme"]
    assert acme["ansible_connection"] == "local"
    interpreter = Path(acme["ansible_python_interpreter"])
    assert interpreter.parent == Path(sys.executable).parent
    assert acme["prompt_organisation_file"] == str(organisations_dir / "acme.yaml")
    assert acme["prompt_organisation_slug"] == "acme"
    assert acme["prompt_display_name"] == "Org acme"


def test_host_is_named_by_slug_not_file_name(
    run_ansible: Callable[..., Any], organisations_dir: Path
) -> None:
    (organisations_dir / "customer-1.yml").write_text(organisation_yaml("acme"))

    listed = inventory(run_ansible, organisations_dir)

    assert listed["prompt_organisations"]["hosts"] == ["acme"]


def test_invalid_and_duplicate_files_become_failing_hosts(
    run_ansible: Callable[..., Any], organisations_dir: Path
) -> None:
    (organisations_dir / "acme.yaml").write_text(organisation_yaml("acme"))
    (organisations_dir / "acme-copy.yaml").write_text(organisation_yaml("acme"))
    (organisations_dir / "broken.yaml").write_text(
        organisation_yaml("broken", tenant_id="not-a-guid")
    )
    # A bad file named like a valid organisation must not fail that one.
    (organisations_dir / "globex.yaml").write_text("organisation: globex\n")
    (organisations_dir / "other.yaml").write_text(organisation_yaml("globex"))

    listed = inventory(run_ansible, organisations_dir)

    assert sorted(listed["prompt_organisations"]["hosts"]) == ["acme", "globex"]
    invalid = listed["prompt_organisations_invalid"]["hosts"]
    assert sorted(invalid) == ["acme-duplicate", "broken", "globex-invalid"]
    hostvars = listed["_meta"]["hostvars"]
    assert "prompt_organisation_error" not in hostvars["globex"]
    assert hostvars["globex"]["prompt_organisation_file"].endswith("other.yaml")
    assert "tenant_id" in hostvars["broken"]["prompt_organisation_error"]
    assert "GUID" in hostvars["broken"]["prompt_organisation_error"]
    assert "exactly one file" in hostvars["acme-duplicate"]["prompt_organisation_error"]


def test_missing_folder_is_an_error(
    run_ansible: Callable[..., Any], tmp_path: Path
) -> None:
    run = run_ansible(
        "ansible-inventory",
        "-i",
        INVENTORY,
        "--list",
        env={"PROMPT_ORGANISATIONS_PATH": str(tmp_path / "nowhere")},
    )

    assert run.returncode != 0
    assert "PROMPT_ORGANISATIONS_PATH" in run.stderr


@pytest.mark.parametrize(
    ("organisations", "expected"),
    [
        (None, ["eu-acme", "eu-globex", "us-initech"]),
        ("eu-*", ["eu-acme", "eu-globex"]),
        ("us-initech,eu-acme", ["eu-acme", "us-initech"]),
    ],
)
def test_playbooks_select_organisations_by_list_or_pattern(
    run_ansible: Callable[..., Any],
    organisations_dir: Path,
    organisations: str | None,
    expected: list[str],
) -> None:
    for slug in ("eu-acme", "eu-globex", "us-initech"):
        (organisations_dir / f"{slug}.yaml").write_text(organisation_yaml(slug))
    extra = ["-e", f"organisations={organisations}"] if organisations else []

    run = run_ansible(
        "ansible-playbook",
        "-i",
        INVENTORY,
        "playbooks/onboard.yml",
        "--list-hosts",
        *extra,
        env={"PROMPT_ORGANISATIONS_PATH": str(organisations_dir)},
    )

    assert run.returncode == 0, run.stderr
    # The last play is the organisations' (the first checks the selection).
    listed = run.stdout.rsplit("hosts (", 1)[1].splitlines()[1:]
    assert sorted(line.strip() for line in listed if line.strip()) == expected


@pytest.mark.parametrize("playbook", ["onboard.yml", "status.yml", "offboard.yml"])
@pytest.mark.parametrize("organisations", ["eu-acmee", "us-*", "eu-acme,globexx"])
def test_a_selection_matching_nothing_fails(
    run_ansible: Callable[..., Any],
    organisations_dir: Path,
    playbook: str,
    organisations: str,
) -> None:
    for slug in ("eu-acme", "eu-globex"):
        (organisations_dir / f"{slug}.yaml").write_text(organisation_yaml(slug))
    selection = f"organisations={organisations}"

    run = run_ansible(
        "ansible-playbook",
        "-i",
        INVENTORY,
        f"playbooks/{playbook}",
        "-e",
        selection,
        "-e",
        f"confirm_offboard={organisations}",
        env={"PROMPT_ORGANISATIONS_PATH": str(organisations_dir)},
    )

    if organisations == "eu-acme,globexx":
        # One name matches: the playbook goes on (and fails later for want of a
        # Graph to talk to), the selection check passes.
        assert "No organisation matches" not in run.stdout
        return
    assert run.returncode == 2, run.stdout
    assert f"No organisation matches {selection}" in run.stdout
    assert "The inventory has: eu-acme, eu-globex." in run.stdout
