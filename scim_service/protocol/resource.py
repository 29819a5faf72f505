"""Resource documents: parse POST/PUT bodies, render and project representations.

RFC 7643 sections 2-3 and RFC 7644 sections 3.3, 3.5.1 and 3.9, tolerant of what
Entra ID sends (nulls, `meta` in POST, capitalised names, string booleans).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scim_service.errors import ScimError
from scim_service.protocol._path import Resolved, container, json_copy, resolve_name
from scim_service.protocol._values import MANAGER, coerce_value, invalid
from scim_service.protocol.schema import Attribute, ResourceType

__all__ = [
    "MAX_INDEXED_LENGTH",
    "check_document",
    "display_name",
    "external_id",
    "parse_resource",
    "project",
    "render",
    "user_name",
]

# RFC 7644 3.3: id, meta and schemas are the service's; a client may echo them.
_IGNORED_KEYS = frozenset({"id", "meta", "schemas"})
# The attributes the store indexes (storage contract), and their length cap.
_INDEXED = ("userName", "externalId", "displayName")
MAX_INDEXED_LENGTH = 1024


def parse_resource(body: object, rt: ResourceType) -> dict[str, Any]:
    """Turn a POST/PUT body into a document.

    Names are matched case-insensitively and stored canonically; nulls, empty
    lists, read-only attributes and `password` (Prompt signs in by SSO, so it is
    never stored) are dropped. Raises ScimError 400 invalidSyntax when the body is
    not an object, invalidValue for unknown attributes, wrong types and missing
    required attributes. A single object sent for a multi-valued attribute is
    taken as a one-element list.
    """
    if not isinstance(body, dict):
        raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")

    doc: dict[str, Any] = {}
    for key, value in body.items():
        if not isinstance(key, str) or key.lower() in _IGNORED_KEYS:
            continue
        # An extension's attributes come nested under its URN; some clients also
        # nest core attributes under the core URN.
        schema = rt.extension(key) or (
            rt.schema if key.lower() == rt.schema.id.lower() else None
        )
        if schema is not None:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise invalid(f"'{schema.id}' must be a JSON object of attributes.")
            for sub_key, sub_value in value.items():
                if str(sub_key).lower() not in _IGNORED_KEYS:
                    _put(doc, rt, f"{schema.id}:{sub_key}", sub_value)
            continue
        _put(doc, rt, key, value)

    check_document(doc, rt)
    return doc


def _put(doc: dict[str, Any], rt: ResourceType, key: str, value: object) -> None:
    target = resolve_name(rt, key)
    if target is None or target.attribute is None:
        raise invalid(
            f"Unknown attribute '{key}' for a {rt.name}; see /Schemas for the "
            "attributes this service stores."
        )
    attr = target.attribute
    if attr.mutability == "readOnly" or (
        target.sub is not None and target.sub.mutability == "readOnly"
    ):
        return
    if attr.mutability == "writeOnly":
        return
    if attr is MANAGER and target.sub is not None:
        # "manager.value" in a body: the same rules as a manager object.
        value = {target.sub.name: value}
        target = Resolved(target.urn, target.schema, attr)

    holder = doc if target.urn is None else doc.setdefault(target.urn, {})
    if target.sub is None:
        coerced = coerce_value(attr, value, target.name)
        if coerced is None:
            holder.pop(attr.name, None)
        else:
            holder[attr.name] = coerced
    elif attr.multi_valued:
        raise invalid(f"'{key}': give '{attr.name}' as a list of objects instead.")
    else:
        # A dotted key ("name.givenName") in a body sets one sub-attribute.
        coerced = coerce_value(target.sub, value, target.name)
        parent = holder.setdefault(attr.name, {})
        if coerced is not None and isinstance(parent, dict):
            parent[target.sub.name] = coerced
        if not parent:
            holder.pop(attr.name, None)
    if target.urn is not None and not doc[target.urn]:
        del doc[target.urn]


def check_document(doc: dict[str, Any], rt: ResourceType) -> None:
    """Raise 400 invalidValue for a blank required attribute or a bad indexed value.

    Required attributes (a User's userName, a Group's displayName) must not be
    missing, empty or only whitespace; the indexed ones (userName, externalId,
    displayName) hold at most MAX_INDEXED_LENGTH characters and no NUL.
    """
    for name in rt.required_attributes:
        value = doc.get(name)
        # RFC 7643 4.1.1: userName identifies the user to the service provider;
        # whitespace identifies nobody.
        if value is None or (isinstance(value, str) and not value.strip()):
            raise invalid(
                f"Attribute '{name}' is required for a {rt.name} and must not be "
                "empty or only whitespace."
            )

    for name in _INDEXED:
        value = doc.get(name)
        if not isinstance(value, str):
            continue
        # The store indexes these values; an unbounded one would bloat the
        # indexes and every lookup of it (no directory holds such names).
        if len(value) > MAX_INDEXED_LENGTH:
            raise invalid(
                f"Attribute '{name}' is {len(value)} characters long; this service "
                f"stores at most {MAX_INDEXED_LENGTH}."
            )
        if "\x00" in value:
            raise invalid(
                f"Attribute '{name}' contains the NUL character (\\u0000), which "
                "no identifier holds and PostgreSQL cannot store; remove it."
            )


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
    """Return the full SCIM representation of a stored document.

    `schemas` lists the core schema and each extension present; `meta` carries
    RFC 3339 times and the weak version `W/"n"` (RFC 7644 3.14).
    """
    rep: dict[str, Any] = {"schemas": _schemas_of(doc, rt), "id": id}
    for key, value in doc.items():
        attr = rt.core_attribute(key)
        if attr is not None and attr.returned == "never":
            continue
        rep[key] = json_copy(value)

    rep["meta"] = {
        "resourceType": rt.name,
        "created": _timestamp(created),
        "lastModified": _timestamp(last_modified),
        "location": location,
        "version": f'W/"{version}"',
    }
    return rep


def _schemas_of(doc: dict[str, Any], rt: ResourceType) -> list[str]:
    present = {k.lower() for k, v in doc.items() if isinstance(v, dict) and v}
    return [rt.schema.id] + [e.id for e in rt.extensions if e.id.lower() in present]


# Projection (RFC 7644 3.9). A selection maps a container (None = core) to the
# attributes picked in it; each attribute maps to None (all of it) or to a set of
# sub-attribute names.
_Selection = dict[str | None, dict[str, set[str] | None] | None]


def _select(rt: ResourceType, names: list[str]) -> _Selection:
    selection: _Selection = {}
    for raw in names:
        target = resolve_name(rt, raw.strip())
        if target is None:
            # RFC 7644 3.9 gives no error for unknown names; they select nothing.
            continue
        _add_to_selection(selection, target)
    return selection


def _add_to_selection(selection: _Selection, target: Resolved) -> None:
    if target.attribute is None:
        selection[target.urn] = None
        return
    if target.urn in selection and selection[target.urn] is None:
        return
    attrs = selection.setdefault(target.urn, {})
    assert attrs is not None
    name = target.attribute.name
    if target.sub is None:
        attrs[name] = None
    elif name not in attrs or attrs[name] is not None:
        subs = attrs.setdefault(name, set())
        assert subs is not None
        subs.add(target.sub.name)


def _pick(value: Any, subs: set[str] | None, keep: bool) -> Any:
    """Keep (or drop, when keep is False) the named sub-attributes of a value."""
    if subs is None:
        return json_copy(value) if keep else None
    if isinstance(value, list):
        picked = [_pick(item, subs, keep) for item in value]
        return [p for p in picked if p] or None
    if isinstance(value, dict):
        out = {k: json_copy(v) for k, v in value.items() if (k in subs) == keep}
        return out or None
    return None if keep else value


def project(
    rep: dict[str, Any],
    rt: ResourceType,
    *,
    attributes: list[str] | None,
    excluded: list[str] | None,
) -> dict[str, Any]:
    """Apply `attributes` / `excludedAttributes` (RFC 7644 section 3.9).

    Names may be dotted (`name.givenName`) or URN-qualified, in any case. `id`
    and `schemas` are always returned, `password` never. With both lists given,
    `attributes` selects first and `excludedAttributes` then removes.
    """
    # Nothing to select: skip the deep copy (nested values are shared with `rep`).
    out = json_copy(rep) if attributes or excluded else dict(rep)
    if attributes:
        out = _keep_only(out, rt, _select(rt, attributes))
    if excluded:
        out = _drop(out, rt, _select(rt, excluded))

    for key in list(out):
        attr = rt.core_attribute(key)
        if attr is not None and attr.returned == "never":
            del out[key]
    out["schemas"] = _schemas_of(out, rt)
    return {"schemas": out.pop("schemas"), **out}


def _keep_only(
    rep: dict[str, Any], rt: ResourceType, selection: _Selection
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in rep.items():
        if key == "schemas":
            out[key] = value
            continue
        ext = rt.extension(key)
        if ext is not None:
            if ext.id in selection:
                picked = _keep_attrs(value, selection[ext.id])
                if picked:
                    out[key] = picked
            continue
        attr = rt.core_attribute(key)
        if attr is not None and attr.returned == "always":
            out[key] = value
            continue
        if None in selection:
            picked = _keep_attrs({key: value}, selection[None])
            if picked:
                out.update(picked)
    return out


def _keep_attrs(
    value: object, attrs: dict[str, set[str] | None] | None
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    if attrs is None:
        return value
    out = {}
    for key, sub_value in value.items():
        if key in attrs:
            picked = _pick(sub_value, attrs[key], keep=True)
            if picked is not None:
                out[key] = picked
    return out


def _drop(
    rep: dict[str, Any], rt: ResourceType, selection: _Selection
) -> dict[str, Any]:
    for urn, attrs in selection.items():
        holder = container(rep, urn)
        if holder is None:
            continue
        if attrs is None:
            if urn is not None:
                rep.pop(urn, None)
            continue
        for name, subs in attrs.items():
            attr: Attribute | None = rt.core_attribute(name) if urn is None else None
            if (attr is not None and attr.returned == "always") or name not in holder:
                continue
            remaining = _pick(holder[name], subs, keep=False)
            if remaining is None:
                del holder[name]
            else:
                holder[name] = remaining
        if urn is not None and not holder:
            rep.pop(urn, None)
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
