"""Every custom module and the inventory plugin render with ansible-doc."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
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


def load_module_utils() -> Any:
    """playbooks/module_utils/prompt_provisioning.py, as the modules import it."""
    path = PLAYBOOKS / "module_utils" / "prompt_provisioning.py"
    spec = importlib.util.spec_from_file_location("prompt_provisioning_doc", path)
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    # dataclasses look their module up while the file runs.
    sys.modules[spec.name] = loaded
    try:
        spec.loader.exec_module(loaded)
    finally:
        del sys.modules[spec.name]
    return loaded


@pytest.mark.parametrize("module", MODULES)
def test_module_documents_exactly_the_options_it_accepts(
    module: str, run_ansible: Callable[..., Any]
) -> None:
    docs = run_ansible("ansible-doc", "-M", "playbooks/library", "--json", module)
    # Ansible's own argument check lists what the module really accepts.
    probe = run_ansible(
        "ansible",
        "localhost",
        "-m",
        module,
        "-a",
        "path=/nonexistent no_such_option=1",
        env={"ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg")},
    )

    assert docs.returncode == 0, docs.stderr
    documented = json.loads(docs.stdout)[module]["doc"]["options"]
    found = re.search(r"Supported parameters include: ([^.]+)\.", probe.stdout)
    assert found, probe.explain()
    assert set(documented) == set(found[1].split(", "))

    # Type, default and choices of the shared options as the code has them.
    for name, argument in load_module_utils().COMMON_ARGUMENTS.items():
        option = documented[name]
        assert option["type"] == argument["type"], (module, name)
        assert option.get("default") == argument.get("default"), (module, name)
        assert option.get("choices") == argument.get("choices"), (module, name)
        for variable in argument.get("fallback", (None, []))[1]:
            assert variable in " ".join(option["description"]), (module, name)


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
