"""Fixtures of the Ansible tests: real ansible-playbook runs from .venv/bin.

Every run uses playbooks/ansible.cfg, a private ANSIBLE_HOME in tmp_path and
organisation files generated into tmp_path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
BIN = Path(sys.executable).parent
INVENTORY = PLAYBOOKS / "inventory" / "organisations.yml"

_RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)\s+"
    r"skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)",
    re.MULTILINE,
)


@dataclass
class Run:
    """One finished ansible-playbook run."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP counters per host."""
        return {
            m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
            for m in _RECAP.finditer(self.stdout)
        }


@pytest.fixture
def ansible_env(tmp_path: Path) -> dict[str, str]:
    """Environment of an ansible run: this repo's config, nothing in ~/.ansible."""
    home = tmp_path / "ansible-home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "PROMPT_", "AZURE_"))
    }
    env.update(
        ANSIBLE_CONFIG=str(PLAYBOOKS / "ansible.cfg"),
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@pytest.fixture
def run_ansible(ansible_env: dict[str, str]) -> Callable[..., Run]:
    """Run an ansible executable of .venv/bin from the repository root."""

    def run(tool: str, *args: str, env: dict[str, str] | None = None) -> Run:
        started = time.perf_counter()
        done = subprocess.run(
            [str(BIN / tool), *args],
            cwd=REPO,
            env={**ansible_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        seconds = time.perf_counter() - started
        return Run(done.returncode, done.stdout, done.stderr, seconds)

    return run


def organisation_yaml(
    slug: str,
    *,
    scim_url: str = "http://127.0.0.1:9/scim/v2",
    admin_url: str | None = None,
    token: str = "{env: PROMPT_TOKEN_UNUSED}",
    tenant_id: str = "11111111-2222-3333-4444-555555555555",
    users: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
) -> str:
    """Text of one organisation file (the spec module is the authority)."""
    lines = [
        f"organisation: {slug}",
        f"display_name: Org {slug}",
        "prompt:",
        f"  scim_url: {scim_url}",
        *([f"  admin_url: {admin_url}"] if admin_url else []),
        f"  token: {token}",
        "  default_department: Nursing",
        '  default_section: "Ward 3"',
        "entra:",
        f"  tenant_id: {tenant_id}",
        "assignments:",
        f"  users: [{', '.join(users)}]",
        f"  groups: [{', '.join(repr(g) for g in groups)}]",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def organisations_dir(tmp_path: Path) -> Path:
    """An empty folder for generated organisation files."""
    folder = tmp_path / "organisations"
    folder.mkdir()
    return folder
