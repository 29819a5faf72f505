"""PATCH (RFC 7644 section 3.5.2) with the request shapes Entra ID really sends.

See `apply_patch` for the Entra deviations tolerated and the errors raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim_service.errors import ScimError
from scim_service.protocol._path import Resolved, ci_get, json_copy, resolve_name
from scim_service.protocol._values import (
    MANAGER,
    coerce_element,
    coerce_value,
    invalid,
)
from scim_service.protocol.filter import (
    AttrPath,
    check_value_filter,
    element_matches,
    equality_terms,
    parse_path,
)
from scim_service.protocol.resource import check_document
from scim_service.protocol.schema import Attribute, ResourceType

__all__ = ["PATCH_OP", "apply_patch"]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_OPS = ("add", "replace", "remove")


def _syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def _no_target(detail: str) -> ScimError:
    return ScimError(400, detail, "noTarget")


def _bad_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def _mutability(detail: str) -> ScimError:
    return ScimError(400, detail, "mutability")


def apply_patch(doc: dict[str, Any], body: object, rt: ResourceType) -> dict[str, Any]:
    """Return the document after the PatchOp `body`; never mutates `doc`.

    All-or-nothing: operations run in order on a copy, and the first failing
    one raises ScimError 400 (invalidSyntax, invalidPath, noTarget, invalidValue
    or mutability) naming the operation. An unchanged result equals `doc`.

    Tolerated Entra shapes: op names in any case, string booleans, path-less
    values with dotted or URN-qualified keys, value-path upserts, `manager` as a
    bare id, and the legacy member removal
    `{"op": "Remove", "path": "members", "value": [...]}`. A body without
    `schemas` is accepted; one whose `schemas` lacks the PatchOp URN is refused.
    """
    operations = _operations(body)
    new: dict[str, Any] = json_copy(doc)
    for index, raw in enumerate(operations, start=1):
        op = _Operation.read(raw, index)
        try:
            _run(new, op, rt)
        except ScimError as exc:
            raise ScimError(
                exc.status, f"{op.label}: {exc.detail}", exc.scim_type
            ) from exc
        _prune(new, rt)

    check_document(new, rt)
    return new


def _operations(body: object) -> list[Any]:
    if not isinstance(body, dict):
        raise _syntax("The PATCH body must be a JSON object (a PatchOp message).")

    schemas = ci_get(body, "schemas")
    if schemas is not None and (
        not isinstance(schemas, list)
        or PATCH_OP.lower() not in {str(s).lower() for s in schemas}
    ):
        raise _syntax(f"The PATCH body's 'schemas' must contain '{PATCH_OP}'.")

    operations = ci_get(body, "Operations")
    if not isinstance(operations, list) or not operations:
        raise _syntax("The PATCH body needs a non-empty 'Operations' list.")
    return operations


@dataclass(frozen=True)
class _Operation:
    kind: str
    path: str | None
    value: Any
    has_value: bool
    label: str

    @classmethod
    def read(cls, raw: object, index: int) -> _Operation:
        if not isinstance(raw, dict):
            raise _syntax(f"PATCH operation {index} must be a JSON object.")
        kind = ci_get(raw, "op")
        # Entra sends "Add"/"Replace"/"Remove"; op names are case-insensitive.
        if not isinstance(kind, str) or kind.lower() not in _OPS:
            raise _syntax(
                f"PATCH operation {index} has op {kind!r}; use add, replace or remove."
            )
        path = ci_get(raw, "path")
        if path is not None and not isinstance(path, str):
            raise _bad_path(f"PATCH operation {index}: 'path' must be a string.")
        label = f"PATCH operation {index} ({kind.lower()}"
        label += f" {path})" if path else ")"
        return cls(
            kind=kind.lower(),
            path=path or None,
            value=ci_get(raw, "value"),
            has_value=any(str(k).lower() == "value" for k in raw),
            label=label,
        )


def _run(doc: dict[str, Any], op: _Operation, rt: ResourceType) -> None:
    if op.path is not None:
        _apply_path(doc, rt, op.kind, op.path, op.value, op.has_value)
        return
    if op.kind == "remove":
        raise _no_target("remove needs a 'path' (RFC 7644 section 3.5.2.2).")
    if not isinstance(op.value, dict):
        raise invalid(f"{op.kind} without 'path' needs an object of attributes.")
    _apply_object(doc, rt, op.kind, None, op.value)


def _apply_object(
    doc: dict[str, Any],
    rt: ResourceType,
    kind: str,
    prefix: str | None,
    value: dict[str, Any],
) -> None:
    """Apply a path-less value object: each key is a path (Entra aadOptscim062020).

    Keys may be dotted (`name.givenName`), URN-qualified
    (`urn:...:User:employeeNumber`) or an extension URN holding an object.
    """
    for key, item in value.items():
        # A `schemas` member (clients serialising an extension object add one)
        # is not an attribute.
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        path = f"{prefix}:{key}" if prefix else key
        _apply_path(doc, rt, kind, path, item, True)


def _apply_path(
    doc: dict[str, Any],
    rt: ResourceType,
    kind: str,
    text: str,
    value: Any,
    has_value: bool,
) -> None:
    path = parse_path(text)
    target = resolve_name(rt, path.name)
    if target is None:
        raise _bad_path(
            f"Unknown attribute '{path.name}' for a {rt.name} (see /Schemas)."
        )

    if target.attribute is None:
        # The path is a schema URN alone: its value holds that schema's attributes.
        if path.filter is not None or path.sub is not None:
            raise _bad_path(f"'{text}' names a schema, not an attribute.")
        if kind == "remove":
            if target.urn is not None:
                doc.pop(target.urn, None)
            return
        if value is None:
            if target.urn is not None:
                doc.pop(target.urn, None)
            return
        if not isinstance(value, dict):
            raise invalid(f"The value for '{target.schema.id}' must be an object.")
        _apply_object(doc, rt, kind, target.schema.id, value)
        return

    attr = target.attribute
    sub = _sub_attribute(path, target)
    _check_writable(attr, sub, target, kind)
    if attr.mutability == "writeOnly":
        # password: accepted and discarded, Prompt signs users in by SSO.
        return

    holder = doc if target.urn is None else doc.setdefault(target.urn, {})
    if path.filter is not None:
        if not attr.multi_valued or attr.type != "complex":
            raise _bad_path(f"'{attr.name}' is not multi-valued; it takes no [filter].")
        try:
            check_value_filter(path.filter, rt, attr)
        except ScimError as exc:
            raise _bad_path(exc.detail.removeprefix("Invalid filter: ")) from None
        _apply_filtered(holder, rt, kind, attr, path, sub, value)
    elif sub is not None:
        _apply_sub(holder, kind, attr, sub, target.name, value)
    else:
        _apply_whole(holder, kind, attr, target.name, value, has_value)


def _sub_attribute(path: AttrPath, target: Resolved) -> Attribute | None:
    assert target.attribute is not None
    if path.sub is None:
        return target.sub
    if target.sub is not None:
        raise _bad_path(f"'{path}' names too many sub-attributes.")
    sub = target.attribute.sub(path.sub)
    if sub is None:
        raise _bad_path(f"'{target.attribute.name}' has no sub-attribute '{path.sub}'.")
    return sub


def _check_writable(
    attr: Attribute, sub: Attribute | None, target: Resolved, kind: str
) -> None:
    # RFC 7643 3.1: id and meta (with every sub-attribute of meta) are read-only.
    if attr.mutability == "readOnly" or (sub and sub.mutability == "readOnly"):
        name = target.name if sub is None else f"{attr.name}.{sub.name}"
        verb = {"add": "added", "replace": "replaced", "remove": "removed"}[kind]
        raise _mutability(f"Attribute '{name}' is read-only; it cannot be {verb}.")


def _apply_whole(
    holder: dict[str, Any],
    kind: str,
    attr: Attribute,
    name: str,
    value: Any,
    has_value: bool,
) -> None:
    """add/replace/remove on an attribute named without sub-attribute or filter."""
    existing = holder.get(attr.name)
    if kind == "remove":
        if attr.required:
            raise invalid(f"Attribute '{name}' is required; it cannot be removed.")
        if has_value and value is not None and attr.multi_valued:
            # Entra (without aadOptscim062020) removes group members this way.
            _remove_listed(holder, attr, name, value)
            return
        _check_immutable(attr, name, existing, None)
        holder.pop(attr.name, None)
        return

    coerced = coerce_value(attr, value, name)
    if coerced is None and kind == "add" and attr.multi_valued:
        return
    if coerced is None:
        # null, "" for manager, or an empty list: the attribute becomes unassigned.
        _check_immutable(attr, name, existing, None)
        holder.pop(attr.name, None)
        return

    if attr.multi_valued:
        current = existing if isinstance(existing, list) else []
        merged, touched = list(coerced), list(coerced)
        if kind == "add":
            merged, touched = list(current), []
            for item in coerced:
                same = next((old for old in merged if _same(attr, item, old)), None)
                if same is None:
                    merged.append(item)
                touched.append(item if same is None else same)
        _clear_other_primaries(merged, touched)
        new: Any = merged
    elif attr.type == "complex" and attr is not MANAGER:
        # RFC 7644 3.5.2.1/3.5.2.3: sub-attributes not given stay unchanged.
        new = {**existing, **coerced} if isinstance(existing, dict) else coerced
    else:
        new = coerced
    _check_immutable(attr, name, existing, new)
    holder[attr.name] = new


def _remove_listed(
    holder: dict[str, Any], attr: Attribute, name: str, value: Any
) -> None:
    listed = coerce_value(attr, value, name) or []
    current = holder.get(attr.name)
    if not isinstance(current, list):
        return
    kept = [old for old in current if not any(_contains(old, item) for item in listed)]
    holder[attr.name] = kept


def _apply_sub(
    holder: dict[str, Any],
    kind: str,
    attr: Attribute,
    sub: Attribute,
    name: str,
    value: Any,
) -> None:
    """add/replace/remove of `attr.sub` without a value filter."""
    existing = holder.get(attr.name)
    coerced = None if kind == "remove" else coerce_value(sub, value, name)
    if attr is MANAGER and not coerced:
        holder.pop(attr.name, None)
        return

    if attr.multi_valued:
        elements = existing if isinstance(existing, list) else []
        if not elements and coerced is not None:
            elements = [{}]
        for element in elements:
            _set_sub(element, sub, name, coerced)
        holder[attr.name] = [e for e in elements if e]
        return

    element = dict(existing) if isinstance(existing, dict) else {}
    _set_sub(element, sub, name, coerced)
    holder[attr.name] = element


def _set_sub(element: dict[str, Any], sub: Attribute, name: str, value: Any) -> None:
    old = element.get(sub.name)
    if sub.mutability == "immutable" and old is not None and old != value:
        raise _mutability(f"Attribute '{name}' is immutable once set.")
    if value is None:
        element.pop(sub.name, None)
    else:
        element[sub.name] = value


def _apply_filtered(
    holder: dict[str, Any],
    rt: ResourceType,
    kind: str,
    attr: Attribute,
    path: AttrPath,
    sub: Attribute | None,
    value: Any,
) -> None:
    """Operations on `attr[filter]` or `attr[filter].sub`."""
    assert path.filter is not None
    existing = holder.get(attr.name)
    elements: list[Any] = list(existing) if isinstance(existing, list) else []
    matched = [
        e
        for e in elements
        if isinstance(e, dict) and element_matches(path.filter, e, rt, attr)
    ]
    where = f"{attr.name}[{path.filter}]"

    if kind == "remove":
        if not matched:
            raise _no_target(f"No value of '{attr.name}' matches [{path.filter}].")
        if sub is None:
            elements = [e for e in elements if not any(e is m for m in matched)]
        else:
            for element in matched:
                _set_sub(element, sub, f"{where}.{sub.name}", None)
            elements = [e for e in elements if e]
        holder[attr.name] = elements
        return

    if sub is not None:
        coerced = coerce_value(sub, value, f"{where}.{sub.name}")
        if not matched:
            if coerced is None:
                return
            matched = [_created(rt, attr, path)]
            elements.append(matched[0])
        for element in matched:
            _set_sub(element, sub, f"{where}.{sub.name}", coerced)
    else:
        item = coerce_element(attr, value, where)
        if item is None:
            return
        if not matched:
            created = _created(rt, attr, path)
            created.update(item)
            elements.append(created)
            matched = [created]
        else:
            matched = _replace_elements(elements, matched, item, kind, attr, where)
    _clear_other_primaries(elements, matched)
    holder[attr.name] = [e for e in elements if e]


def _replace_elements(
    elements: list[Any],
    matched: list[Any],
    item: dict[str, Any],
    kind: str,
    attr: Attribute,
    where: str,
) -> list[Any]:
    """Replace (or, for add, extend) the matched elements in place; return them."""
    touched = []
    for index, element in enumerate(elements):
        if not any(element is m for m in matched):
            continue
        new = dict(item) if kind == "replace" else {**element, **item}
        for sub in attr.sub_attributes:
            old = element.get(sub.name)
            if sub.mutability == "immutable" and old not in (None, new.get(sub.name)):
                raise _mutability(
                    f"Attribute '{where}.{sub.name}' is immutable once set."
                )
        elements[index] = new
        touched.append(new)
    return touched


def _created(rt: ResourceType, attr: Attribute, path: AttrPath) -> dict[str, Any]:
    """The element an add/replace creates when its `eq` value filter matched nothing.

    Entra sends `emails[type eq "work"].value` for a user without a work e-mail
    and expects `{"type": "work", "value": ...}` to appear (not 400 noTarget).
    """
    assert path.filter is not None
    terms = equality_terms(path.filter)
    if terms is None:
        raise _no_target(
            f"No value of '{attr.name}' matches [{path.filter}]; only a filter "
            "of 'eq' comparisons can create one."
        )
    element: dict[str, Any] = {}
    for name, literal in terms:
        sub = attr.sub(name)
        assert sub is not None
        element[sub.name] = coerce_element(sub, literal, f"{attr.name}.{sub.name}")
    return element


def _same(attr: Attribute, a: Any, b: Any) -> bool:
    """Equal values are not added twice; members are the same if their ids are."""
    if attr.name == "members" and isinstance(a, dict) and isinstance(b, dict):
        return a.get("value") is not None and a.get("value") == b.get("value")
    return bool(a == b)


def _contains(element: Any, item: Any) -> bool:
    """True when every sub-attribute given in `item` equals the element's."""
    if isinstance(element, dict) and isinstance(item, dict):
        return all(element.get(k) == v for k, v in item.items())
    return bool(element == item)


def _clear_other_primaries(elements: list[Any], touched: list[Any]) -> None:
    """RFC 7643 2.4: primary true may appear once; the value just set wins."""
    if not any(isinstance(t, dict) and t.get("primary") is True for t in touched):
        return
    for element in elements:
        if (
            isinstance(element, dict)
            and element.get("primary") is True
            and not any(element is t for t in touched)
        ):
            element["primary"] = False


def _check_immutable(attr: Attribute, name: str, old: Any, new: Any) -> None:
    if attr.mutability == "immutable" and old is not None and old != new:
        raise _mutability(f"Attribute '{name}' is immutable once set.")


def _prune(doc: dict[str, Any], rt: ResourceType) -> None:
    """Drop emptied lists, objects and extension objects (RFC 7643 2.5)."""
    for key in list(doc):
        value = doc[key]
        if rt.extension(key) is not None and isinstance(value, dict):
            for sub_key in list(value):
                if value[sub_key] in ([], {}, None):
                    del value[sub_key]
        if value in ([], {}, None):
            del doc[key]
