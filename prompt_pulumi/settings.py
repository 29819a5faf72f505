"""Stack configuration of the Pulumi program (namespace `prompt:`), read once.

One stack per organisation: `prompt:organisationFile` names its YAML file, else the
stack name is the slug and the file is organisations/<stack>.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from prompt_pulumi.errors import StackConfigInvalid
from provisioning.spec import OrganisationSpec, load_organisation

__all__ = ["DEFAULT_GRAPH_BASE_URL", "StackSettings", "read_stack_settings"]

DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"


@dataclass(frozen=True)
class StackSettings:
    """What one stack deploys, and where the dynamic providers send Graph calls."""

    organisation_file: Path
    spec: OrganisationSpec
    graph_base_url: str
    scim_token: pulumi.Output[str] | None  # None: the Prompt side issues it
    manage_prompt: bool


def read_stack_settings(project_root: Path) -> StackSettings:
    """Read `prompt:*` config and load the organisation file it points at.

    Raises StackConfigInvalid when no file is found, and provisioning's
    OrganisationFileInvalid (every problem, with file and line) when it is invalid.
    """
    config = pulumi.Config("prompt")
    path = _organisation_file(config.get("organisationFile"), project_root)
    spec = load_organisation(path)

    stack = pulumi.get_stack()
    if spec.organisation != stack:
        pulumi.log.info(
            f"stack {stack!r} deploys organisation {spec.organisation!r} from {path}"
        )

    manage_prompt = config.get_bool("managePromptOrganisation")
    return StackSettings(
        organisation_file=path,
        spec=spec,
        graph_base_url=(config.get("graphBaseUrl") or DEFAULT_GRAPH_BASE_URL).rstrip(
            "/"
        ),
        scim_token=_scim_token(config, spec, path),
        manage_prompt=(
            spec.prompt.admin_url is not None
            if manage_prompt is None
            else manage_prompt
        ),
    )


def _scim_token(
    config: pulumi.Config, spec: OrganisationSpec, path: Path
) -> pulumi.Output[str] | None:
    """Config `prompt:scimToken`, else prompt.token; None when it is to be issued.

    The value becomes a secret input of SynchronizationSecret, the one resource
    that must send it to Entra; Pulumi stores it encrypted.
    """
    configured = config.get_secret("scimToken")
    if configured is not None:
        return configured

    token = spec.prompt.token.resolve(path.parent)
    return None if token is None else pulumi.Output.secret(token)


def _organisation_file(configured: str | None, project_root: Path) -> Path:
    if configured:
        path = Path(configured)
        path = path if path.is_absolute() else project_root / path
        if not path.is_file():
            raise StackConfigInvalid(
                f"prompt:organisationFile is {configured!r}, but {path} is not a "
                "file; fix it with `pulumi config set prompt:organisationFile <path>`"
            )
        return path

    stack = pulumi.get_stack()
    for suffix in (".yaml", ".yml"):
        path = project_root / "organisations" / f"{stack}{suffix}"
        if path.is_file():
            return path
    raise StackConfigInvalid(
        f"stack {stack!r} has no prompt:organisationFile and there is no "
        f"organisations/{stack}.yaml; name the stack after the organisation slug "
        "or run `pulumi config set prompt:organisationFile <path>`"
    )
