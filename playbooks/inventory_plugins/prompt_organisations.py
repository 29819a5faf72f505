"""Ansible inventory plugin: one host per organisation file (organisations/*.yaml).

Files are read with `provisioning.spec.load_organisation`, so the inventory and the
engine agree on what a valid organisation is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

DOCUMENTATION = r"""
name: prompt_organisations
short_description: One host per Prompt organisation file
description:
  - Reads every organisation file (C(*.yaml), C(*.yml)) in the given paths and adds
    one host per organisation, named by its C(organisation) slug, to the group
    C(prompt_organisations).
  - Each host runs locally (C(ansible_connection=local)) with the Python interpreter
    that runs C(ansible-playbook), so modules can import the C(provisioning) package.
  - A file that fails validation still becomes a host (named after the file) in the
    group C(prompt_organisations_invalid), with the problems in
    C(prompt_organisation_error); the playbooks fail that host alone.
  - Needs the C(provisioning) package importable by the Python running Ansible.
options:
  plugin:
    description: Marks the file as a configuration of this plugin.
    required: true
    choices: [prompt_organisations]
  paths:
    description:
      - Organisation files or folders holding them. Relative paths are relative to
        the directory of this inventory configuration file.
      - Default, the C(organisations/) folder next to C(playbooks/).
    type: list
    elements: path
    env:
      - name: PROMPT_ORGANISATIONS_PATH
  interpreter:
    description:
      - Value given to C(ansible_python_interpreter) on every host. By default the
        Python running Ansible (the same as C(ansible_playbook_python)), which has
        the C(provisioning) package.
    type: str
"""

EXAMPLES = r"""
# playbooks/inventory/organisations.yml: every file in organisations/
plugin: prompt_organisations

# a folder and a single file elsewhere (relative to this inventory file)
plugin: prompt_organisations
paths:
  - /srv/prompt/organisations
  - ../../staging/acme.yaml

# run against another folder without editing the file:
#   PROMPT_ORGANISATIONS_PATH=/srv/orgs ansible-inventory \
#     -i playbooks/inventory/organisations.yml --graph
"""

GROUP = "prompt_organisations"
INVALID_GROUP = "prompt_organisations_invalid"
SUFFIXES = (".yaml", ".yml")
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "organisations"


class InventoryModule(BaseInventoryPlugin):  # type: ignore[misc]
    """Build the inventory of organisations from their YAML files."""

    NAME = "prompt_organisations"

    def verify_file(self, path: str) -> bool:
        """Accept YAML configuration files; `plugin:` inside decides the rest."""
        return bool(super().verify_file(path)) and path.endswith(SUFFIXES)

    def parse(
        self,
        inventory: Any,
        loader: Any,
        path: str,
        cache: bool = True,
    ) -> None:
        """Add one host per organisation file found under the configured paths."""
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)

        base = Path(path).resolve().parent
        paths = self.get_option("paths") or [str(DEFAULT_FOLDER)]
        files = organisation_files([base / os.path.expanduser(p) for p in paths])
        self.inventory.add_group(GROUP)
        self.inventory.add_group(INVALID_GROUP)

        # File by file, not provisioning.spec.load_paths: that one refuses the whole
        # set for one bad file, here a bad file fails only its own host.
        seen: dict[str, Path] = {}
        invalid: list[tuple[str, Path, str]] = []
        for file in files:
            spec, problem = load_spec(file)
            if spec is None:
                invalid.append((file.stem, file, str(problem)))
            elif spec.organisation in seen:
                problem = (
                    f"{file}: organisation '{spec.organisation}' is also defined in "
                    f"{seen[spec.organisation]}; each organisation slug must appear "
                    "in exactly one file"
                )
                invalid.append((f"{file.stem}-duplicate", file, problem))
            else:
                seen[spec.organisation] = file
                self._add_host(spec.organisation, GROUP, file, spec=spec)

        for name, file, problem in invalid:
            # Never merge a bad file into the host of a valid organisation.
            host = f"{name}-invalid" if name in seen else name
            self._add_host(host, INVALID_GROUP, file, error=problem)

    def _add_host(
        self,
        name: str,
        group: str,
        file: Path,
        *,
        spec: Any = None,
        error: str | None = None,
    ) -> None:
        host_vars: dict[str, Any] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": self.get_option("interpreter")
            or sys.executable,
            "prompt_organisation_file": str(file),
        }
        if spec is not None:
            host_vars.update(
                prompt_organisation_slug=spec.organisation,
                prompt_display_name=spec.display_name,
                prompt_tenant_id=spec.entra.tenant_id,
            )
        if error is not None:
            host_vars["prompt_organisation_error"] = error

        self.inventory.add_host(name, group=group)
        for key, value in host_vars.items():
            self.inventory.set_variable(name, key, value)


def organisation_files(paths: list[Path]) -> list[Path]:
    """Expand files and folders into a sorted list of organisation files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            # Hidden files are editors' and tools', as prompt-provision agrees.
            found.extend(
                p
                for p in path.iterdir()
                if p.suffix in SUFFIXES and not p.name.startswith(".")
            )
        elif path.is_file():
            found.append(path)
        else:
            raise AnsibleParserError(
                f"organisation path {path} does not exist; set 'paths' in the "
                "inventory file or PROMPT_ORGANISATIONS_PATH to a folder of "
                "organisation files"
            )
    return sorted(p.resolve() for p in found)


def load_spec(file: Path) -> tuple[Any, str | None]:
    """Load one organisation file with the engine's loader: (spec, None) or
    (None, the problems found)."""
    try:
        from provisioning.errors import OrganisationFileInvalid
        from provisioning.spec import load_organisation
    except ImportError as exc:
        raise AnsibleParserError(
            "the prompt_organisations inventory needs the 'provisioning' package; "
            "run ansible-playbook from the project's virtualenv (.venv/bin)"
        ) from exc

    try:
        return load_organisation(file), None
    except OrganisationFileInvalid as exc:
        return None, str(exc)
