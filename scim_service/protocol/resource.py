"""Resource documents: parse POST/PUT bodies, render and project representations.

RFC 7643 sections 2-3 and RFC 7644 sections 3.3, 3.5.1 and 3.9.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from scim_service.errors import ScimError
from scim_service.protocol.schema import ResourceType


def parse_resource(body: object, rt: ResourceType) -> dict[str, Any]:
    """Turn a POST/PUT body into a document; raise ScimError 400 when refused."""
    if not isinstance(body, dict):
        raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")
    return {
        k: v
        for k, v in body.items()
        if k not in ("id", "meta", "schemas") and v is not None
    }


def render(
    doc: dict[str, Any],
    rt: ResourceType,
    *,
    id: str,
    created: datetime,
    last_modified: datetime,
    version: int,
    location: str,
) -> dict[str, Any]:
    """Return the full SCIM representation of a stored document."""
    rep: dict[str, Any] = {"schemas": [rt.schema.id], "id": id}
    rep.update(copy.deepcopy(doc))
    rep["meta"] = {
        "resourceType": rt.name,
        "created": created.isoformat(),
        "lastModified": last_modified.isoformat(),
        "location": location,
        "version": f'W/"{version}"',
    }
    return rep


def project(
    rep: dict[str, Any],
    rt: ResourceType,
    *,
    attributes: list[str] | None,
    excluded: list[str] | None,
) -> dict[str, Any]:
    """Apply `attributes` / `excludedAttributes` (RFC 7644 section 3.9)."""
    return rep


def user_name(doc: dict[str, Any]) -> str | None:
    """Return the document's userName, the value the store indexes."""
    value = doc.get("userName")
    return value if isinstance(value, str) else None


def external_id(doc: dict[str, Any]) -> str | None:
    """Return the document's externalId, the value the store indexes."""
    value = doc.get("externalId")
    return value if isinstance(value, str) else None


def display_name(doc: dict[str, Any]) -> str | None:
    """Return the document's displayName, the value the store indexes."""
    value = doc.get("displayName")
    return value if isinstance(value, str) else None
