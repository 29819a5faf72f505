"""The emulator is a fake of the outside world: it imports nothing of our own code.

DESIGN.md "Dependency direction": entra_emulator must not share the assumptions of
provisioning/ or scim_service/, so neither may be imported, even lazily.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "entra_emulator"
FORBIDDEN = ("provisioning", "scim_service", "prompt_pulumi", "playbooks", "demo")


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            names.append("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name
)
def test_module_imports_none_of_our_packages(path: Path) -> None:
    bad = [
        name
        for name in _imported_modules(path)
        if name.startswith("..") or name.split(".")[0] in FORBIDDEN
    ]

    assert bad == [], f"{path.name} imports {bad}"


def test_emulator_serves_with_our_packages_unimportable() -> None:
    # A fresh interpreter where importing our packages fails: every emulator
    # module loads and one Graph request is answered.
    script = f"""
import importlib, pkgutil, sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {FORBIDDEN!r}:
            raise ImportError("emulator imported " + name)
sys.meta_path.insert(0, Refuse())
import entra_emulator
for info in pkgutil.iter_modules(entra_emulator.__path__):
    if info.name != "__main__":
        importlib.import_module("entra_emulator." + info.name)
from starlette.testclient import TestClient
from entra_emulator.app import create_app
from entra_emulator.server import Emulator
with TestClient(create_app(Emulator())) as http:
    assert http.get("/v1.0/servicePrincipals").status_code == 200
print("isolated")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PACKAGE.parent,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "isolated"
