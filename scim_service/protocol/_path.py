"""Resolve attribute names and paths against a resource type (RFC 7644 section 3.10).

Names compare case-insensitively (RFC 7643 section 2.1); extension attributes may
be URN-qualified (`urn:...:enterprise:2.0:User:manager.value`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim_service.protocol.schema import Attribute, ResourceType, Schema


@dataclass(frozen=True)
class Resolved:
    """An attribute (or a whole extension) located in a resource type.

    `urn` is the key the attribute lives under in a document: None for core and
    common attributes, the canonical extension URN otherwise. `attribute` is None
    when the name was an extension URN alone (the whole extension object).
    """

    urn: str | None
    schema: Schema
    attribute: Attribute | None
    sub: Attribute | None = None

    @property
    def name(self) -> str:
        """Canonical name for messages: `name.givenName`, `urn:...:User:manager`."""
        parts = [self.urn] if self.urn else []
        if self.attribute is not None:
            dotted = self.attribute.name
            if self.sub is not None:
                dotted += "." + self.sub.name
            parts.append(dotted)
        return ":".join(parts)


def split_schema(rt: ResourceType, name: str) -> tuple[Schema | None, str]:
    """Split a leading schema URN off `name`: (schema or None, the rest)."""
    lowered = name.lower()
    for schema in (rt.schema, *rt.extensions):
        urn = schema.id.lower()
        if lowered == urn:
            return schema, ""
        if lowered.startswith(urn + ":"):
            return schema, name[len(urn) + 1 :]
    return None, name


def resolve_name(rt: ResourceType, name: str) -> Resolved | None:
    """Resolve `attr`, `attr.sub`, `urn:...:attr[.sub]` or an extension URN alone.

    Unqualified names are looked up in the core schema (with id, externalId and
    meta), then in the extensions in order: Entra's legacy PATCH uses a bare
    `manager` path.
    """
    schema, rest = split_schema(rt, name)
    if schema is not None and not rest:
        urn = None if schema is rt.schema else schema.id
        return Resolved(urn, schema, None)

    parts = rest.split(".")
    if len(parts) > 2 or not all(parts) or rest.lower().startswith("urn:"):
        return None

    found: tuple[Schema, Attribute] | None = None
    if schema is None or schema is rt.schema:
        attr = rt.core_attribute(parts[0])
        if attr is not None:
            found = (rt.schema, attr)
    if schema is None and found is None:
        for ext in rt.extensions:
            attr = ext.attribute(parts[0])
            if attr is not None:
                found = (ext, attr)
                break
    if schema is not None and schema is not rt.schema:
        attr = schema.attribute(parts[0])
        found = (schema, attr) if attr is not None else None
    if found is None:
        return None

    owner, attr = found
    urn = None if owner is rt.schema else owner.id
    if len(parts) == 1:
        return Resolved(urn, owner, attr)
    sub = attr.sub(parts[1])
    if sub is None:
        return None
    return Resolved(urn, owner, attr, sub)


def ci_get(obj: dict[str, Any], key: str) -> Any:
    """Return obj[key], falling back to a case-insensitive key match."""
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for k, v in obj.items():
        if k.lower() == lowered:
            return v
    return None


def container(doc: dict[str, Any], urn: str | None) -> dict[str, Any] | None:
    """Return the object holding attributes of `urn` (the doc itself for core)."""
    if urn is None:
        return doc
    found = ci_get(doc, urn)
    return found if isinstance(found, dict) else None


def json_copy(value: Any) -> Any:
    """Deep-copy a JSON value (dicts, lists, scalars); faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value
