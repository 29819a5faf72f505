"""Policy over a stack's resources: nothing adopted with use_existing is deleted.

Pure functions over registrations (type, name, wire inputs, options), so the check
runs on the mocked resource graph in tests, without the Pulumi CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Registration", "adopted_without_retain"]

# azuread sends it as useExisting on the wire; a dynamic resource keeps its key.
_ADOPT_KEYS = ("useExisting", "use_existing")


@dataclass(frozen=True)
class Registration:
    """One resource as the program registers it with the engine."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    retain_on_delete: bool


def adopted_without_retain(registrations: Iterable[Registration]) -> list[str]:
    """Return one message per adopted resource that `pulumi destroy` would delete.

    An object adopted with use_existing was there before the stack (or belongs
    to another resource, like the service principal of a template instance), so
    it must be registered with retain_on_delete=True.
    """
    return [
        f"{r.type} {r.name!r} adopts an existing object (use_existing) but is not "
        "retain_on_delete: `pulumi destroy` would delete what the stack did not "
        "create; pass ResourceOptions(retain_on_delete=True)"
        for r in registrations
        if any(r.inputs.get(key) is True for key in _ADOPT_KEYS)
        and not r.retain_on_delete
    ]
