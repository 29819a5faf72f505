"""SCIM attribute paths as Entra writes targetAttributeName, and the bodies Entra sends.

Paths: `userName`, `name.givenName`, `emails[type eq "work"].value`, and
extension attributes qualified by their schema URN
(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`).
PATCH shapes (scim-entra.md 2.2): legacy by default ("Add"/"Replace", one op per
attribute, booleans as "True"/"False"); with aadOptscim062020 lowercase ops, real
booleans, value-path ops keep their path and several simple replaces merge into one
path-less replace keyed by attribute path.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_VALUE_PATH = re.compile(
    r'^(?P<attr>[\w$-]+)\[(?P<fattr>\w+) eq "(?P<fval>[^"]*)"\](?:\.(?P<sub>\w+))?$'
)
_BOOLEAN_ATTRIBUTES = {"active"}


@dataclass(frozen=True)
class TargetPath:
    raw: str
    schema: str | None
    attribute: str
    filter: tuple[str, str] | None
    sub: str | None

    @property
    def is_value_path(self) -> bool:
        return self.filter is not None

    @property
    def is_boolean(self) -> bool:
        return (
            self.schema is None
            and self.sub is None
            and self.attribute in _BOOLEAN_ATTRIBUTES
        )


@functools.lru_cache(maxsize=1024)
def parse_target(raw: str) -> TargetPath:
    """Split a targetAttributeName into schema, attribute, filter, sub-attribute."""
    schema = None
    rest = raw
    if raw.lower().startswith("urn:"):
        schema, _, rest = raw.rpartition(":")
    match = _VALUE_PATH.match(rest)
    if match:
        return TargetPath(
            raw, schema, match["attr"], (match["fattr"], match["fval"]), match["sub"]
        )
    attribute, _, sub = rest.partition(".")
    return TargetPath(raw, schema, attribute, None, sub or None)


def _get(container: Any, key: str) -> Any:
    if not isinstance(container, dict):
        return None
    if key in container:
        return container[key]
    lowered = key.lower()  # SCIM attribute names are case-insensitive (RFC 7643 2.1)
    return next((v for k, v in container.items() if k.lower() == lowered), None)


def read(resource: dict[str, Any], path: TargetPath) -> Any:
    """Return the value a SCIM resource holds at a target path (None when absent)."""
    container = resource if path.schema is None else _get(resource, path.schema)
    value = _get(container, path.attribute)
    if path.filter is not None:
        fattr, fval = path.filter
        items = value if isinstance(value, list) else []
        element = next(
            (i for i in items if str(_get(i, fattr) or "").lower() == fval.lower()),
            None,
        )
        return _get(element, path.sub or "value")
    if path.sub is not None:
        return _get(value, path.sub)
    if (
        isinstance(value, dict) and "value" in value
    ):  # manager comes back as {"value": id}
        return value["value"]
    return value


def same(desired: Any, current: Any) -> bool:
    """Compare what Entra would send with what the SCIM side returned."""
    if current is None:
        return desired is None
    if isinstance(current, bool) or isinstance(desired, bool):
        return str(current).lower() == str(desired).lower()
    if isinstance(desired, list) or isinstance(current, list):
        return bool(desired == current)
    return str(desired) == str(current)


def wire_value(path: TargetPath, value: Any, compliant: bool) -> Any:
    """Render an evaluated value as Entra puts it on the wire."""
    if path.is_boolean or isinstance(value, bool):
        flag = (
            value if isinstance(value, bool) else str(value).strip().lower() == "true"
        )
        if compliant:
            return flag
        return "True" if flag else "False"  # legacy: string booleans
    if isinstance(value, list):
        return value
    return str(value)


def _put(body: dict[str, Any], path: TargetPath, value: Any) -> None:
    container = body if path.schema is None else body.setdefault(path.schema, {})
    if path.filter is not None:
        fattr, fval = path.filter
        items = container.setdefault(path.attribute, [])
        element = next((i for i in items if i.get(fattr) == fval), None)
        if element is None:
            element = {fattr: fval}
            if path.attribute in ("emails", "addresses", "phoneNumbers") and not items:
                element["primary"] = True
            items.append(element)
        element[path.sub or "value"] = value
    elif path.sub is not None:
        container.setdefault(path.attribute, {})[path.sub] = value
    else:
        container[path.attribute] = value


def create_body(
    values: list[tuple[TargetPath, Any]], resource_type: str = "User"
) -> dict[str, Any]:
    """Build a POST body from (path, wire value) pairs, as Entra sends it."""
    schemas = (
        [CORE_USER, ENTERPRISE_USER]
        if resource_type == "User"
        else ["urn:ietf:params:scim:schemas:core:2.0:Group"]
    )
    body: dict[str, Any] = {"schemas": schemas}
    for path, value in values:
        _put(body, path, value)
    body["meta"] = {"resourceType": resource_type}
    return body


def patch_body(
    changes: list[tuple[TargetPath, Any, bool]], compliant: bool
) -> dict[str, Any]:
    """Build a PatchOp from (path, wire value, target had a value) triples."""
    ops: list[dict[str, Any]] = []
    if not compliant:
        for path, value, had in changes:
            ops.append(
                {"op": "Replace" if had else "Add", "path": path.raw, "value": value}
            )
        return {"schemas": [PATCH_OP], "Operations": ops}

    simple = [(p, v) for p, v, had in changes if had and not p.is_value_path]
    if len(simple) == 1:
        ops.append({"op": "replace", "path": simple[0][0].raw, "value": simple[0][1]})
    elif simple:
        ops.append({"op": "replace", "value": {p.raw: v for p, v in simple}})
    for path, value, had in changes:
        if path.is_value_path:
            ops.append(
                {"op": "replace" if had else "add", "path": path.raw, "value": value}
            )
        elif not had:
            ops.append({"op": "add", "path": path.raw, "value": value})
    return {"schemas": [PATCH_OP], "Operations": ops}
