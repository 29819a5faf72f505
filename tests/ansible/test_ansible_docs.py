"""Every custom module and the inventory plugin render with ansible-doc."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .ansible_support import ansible_runner

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"

MODULES = sorted(p.stem for p in (PLAYBOOKS / "library").glob("*.py"))


@pytest.fixture
def run_ansible(tmp_path: Path) -> Callable[..., Any]:
    return ansible_runner(tmp_path)


def test_every_module_is_listed() -> None:
    assert {"prompt_organisation", "prompt_organisation_status"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_documentation_renders(
    module: str, run_ansible: Callable[..., Any]
) -> None:
    run = run_ansible("ansible-doc", "-M", "playbooks/library", module)

    assert run.returncode == 0, run.stderr
    assert f"({PLAYBOOKS / 'library' / module}.py)" in run.stdout
    for section in ("OPTIONS", "EXAMPLES", "RETURN VALUES"):
        assert section in run.stdout, f"{module}: no {section}"
    assert "path" in run.stdout
    assert "[WARNING]" not in run.stderr


@pytest.mark.parametrize("module", MODULES)
def test_module_documentation_matches_its_arguments(
    module: str, run_ansible: Callable[..., Any]
) -> None:
    run = run_ansible("ansible-doc", "-M", "playbooks/library", "--json", module)

    assert run.returncode == 0, run.stderr
    documented = set(json.loads(run.stdout)[module]["doc"]["options"])
    source = (PLAYBOOKS / "library" / f"{module}.py").read_text()
    for option in documented:
        assert f'"{option}"' in source or option in {
            "graph_url",
            "graph_credential",
            "prompt_admin_key",
        }, f"{module}: documents {option} but does not accept it"


def test_inventory_plugin_documentation_renders(
    run_ansible: Callable[..., Any],
) -> None:
    run = run_ansible(
        "ansible-doc",
        "-t",
        "inventory",
        "prompt_organisations",
        env={"ANSIBLE_INVENTORY_PLUGINS": str(PLAYBOOKS / "inventory_plugins")},
    )

    assert run.returncode == 0, run.stderr
    assert "PROMPT_ORGANISATIONS_PATH" in run.stdout
