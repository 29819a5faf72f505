"""SCIM filter expressions (RFC 7644 section 3.4.2.2): parse, validate, evaluate.

Full grammar: eq ne co sw ew pr gt ge lt le, and/or/not, parentheses, value paths
(`emails[type eq "work"].value`), sub-attributes and URN-qualified attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim_service.protocol._filter_syntax import (
    And,
    AttrPath,
    Compare,
    HasMatch,
    Node,
    Not,
    Or,
    Present,
    conjuncts,
    filter_error,
    parse_expression,
    parse_path,
)
from scim_service.protocol._path import Resolved, ci_get, container, resolve_name
from scim_service.protocol._values import parse_datetime
from scim_service.protocol.schema import Attribute, ResourceType

__all__ = [
    "AttrPath",
    "Filter",
    "check_value_filter",
    "element_matches",
    "equality_terms",
    "index_terms",
    "parse_filter",
    "parse_path",
    "validate_filter",
]

_ORDERING = frozenset({"gt", "ge", "lt", "le"})
_SUBSTRING = frozenset({"co", "sw", "ew"})
# The resource-level attributes the store indexes (see the storage contract).
_INDEXED = frozenset({"id", "userName", "externalId", "displayName"})


class Filter:
    """A parsed filter expression; `str()` gives its normalised text."""

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        self.root = root

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"

    def __str__(self) -> str:
        return str(self.root)

    def matches(self, rep: dict[str, Any], rt: ResourceType) -> bool:
        """Return True when the rendered representation satisfies the filter."""
        return _evaluate(self.root, rep, _Scope(rt, None))


def parse_filter(text: str) -> Filter:
    """Parse a filter; raise ScimError(400, ..., "invalidFilter") when malformed.

    `text` is already URL-decoded. The error detail names the position (1-based).
    """
    return Filter(text, parse_expression(text))


# ---------------------------------------------------------------- resolution


@dataclass(frozen=True)
class _Scope:
    """Where names resolve: the resource type, or one complex attribute's elements."""

    rt: ResourceType
    parent: Attribute | None


@dataclass(frozen=True)
class _Target:
    resolved: Resolved | None  # None inside brackets (element scope)
    attribute: Attribute  # the attribute whose values are reached
    base: Attribute  # the attribute named before any '.sub' or '[...]'

    @property
    def compared(self) -> Attribute:
        """Comparing a complex attribute compares its `value` (RFC 7644 3.4.2.2)."""
        if self.attribute.type == "complex":
            value = self.attribute.sub("value")
            if value is not None:
                return value
        return self.attribute


def _resolve(path: AttrPath, scope: _Scope) -> _Target:
    """Resolve `path` in `scope`, once per path and scope (filters run per resource)."""
    key = (scope.rt.name, scope.parent.name if scope.parent else None)
    target = path.cache.get(key)
    if target is None:
        target = _resolve_uncached(path, scope)
        path.cache[key] = target
    assert isinstance(target, _Target)
    return target


def _resolve_uncached(path: AttrPath, scope: _Scope) -> _Target:
    if scope.parent is not None:
        sub = scope.parent.sub(path.name)
        if sub is None or "." in path.name:
            raise filter_error(
                f"Invalid filter: '{scope.parent.name}' has no sub-attribute "
                f"'{path.name}'."
            )
        return _with_suffix(path, None, sub, scope)

    resolved = resolve_name(scope.rt, path.name)
    if resolved is None or resolved.attribute is None:
        raise filter_error(
            f"Invalid filter: unknown attribute '{path.name}' for a "
            f"{scope.rt.name} (see /Schemas)."
        )
    if resolved.sub is not None:
        return _with_suffix(path, resolved, resolved.sub, scope)
    return _with_suffix(path, resolved, resolved.attribute, scope)


def _with_suffix(
    path: AttrPath, resolved: Resolved | None, named: Attribute, scope: _Scope
) -> _Target:
    """Apply the `[filter]` and `.sub` that may follow the name itself."""
    base = resolved.attribute if resolved and resolved.attribute else named
    if path.filter is not None and (named is not base or base.type != "complex"):
        raise filter_error(
            f"Invalid filter: '{path.name}' is not complex, so it takes no "
            "[value filter]."
        )
    if path.sub is None:
        return _Target(resolved, named, base)
    if named is not base or scope.parent is not None:
        raise filter_error(f"Invalid filter: '{path}' names too many sub-attributes.")
    sub = base.sub(path.sub)
    if sub is None:
        raise filter_error(
            f"Invalid filter: '{base.name}' has no sub-attribute '{path.sub}'."
        )
    return _Target(resolved, sub, base)


# ---------------------------------------------------------------- validation


def validate_filter(f: Filter, rt: ResourceType) -> None:
    """Raise ScimError 400 invalidFilter for unknown attributes or bad comparisons.

    Ordering operators on booleans and binaries, and literals of the wrong type
    (RFC 7644 3.4.2.2), are refused rather than silently matching nothing.
    """
    _validate(f.root, _Scope(rt, None))


def _validate(node: Node, scope: _Scope) -> None:
    if isinstance(node, And | Or):
        for item in node.items:
            _validate(item, scope)
    elif isinstance(node, Not):
        _validate(node.inner, scope)
    else:
        target = _resolve(node.path, scope)
        if node.path.filter is not None:
            _validate(node.path.filter, _Scope(scope.rt, target.base))
        if isinstance(node, Compare):
            _validate_comparison(node, target.compared)


def _validate_comparison(node: Compare, attr: Attribute) -> None:
    where = f"'{node.path} {node.op}'"
    value = node.value
    if attr.type == "complex":
        raise filter_error(
            f"Invalid filter: {where} compares the complex attribute "
            f"'{attr.name}'; compare one of its sub-attributes instead."
        )
    if value is None:
        if node.op not in ("eq", "ne"):
            raise filter_error(f"Invalid filter: {where} cannot compare with null.")
        return
    if attr.type in ("boolean", "binary") and node.op in _ORDERING:
        raise filter_error(
            f"Invalid filter: {where}: '{attr.name}' is {attr.type}; "
            "gt/ge/lt/le do not apply."
        )
    if attr.type == "boolean":
        if not isinstance(value, bool) or node.op in _SUBSTRING:
            raise filter_error(f"Invalid filter: {where} needs true or false.")
    elif attr.type in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise filter_error(f"Invalid filter: {where} needs a number.")
        if node.op in _SUBSTRING:
            raise filter_error(f"Invalid filter: {where}: co/sw/ew apply to strings.")
    elif not isinstance(value, str):
        raise filter_error(f'Invalid filter: {where} needs a "quoted string".')
    elif (
        attr.type == "dateTime"
        and node.op not in _SUBSTRING
        and parse_datetime(value) is None
    ):
        raise filter_error(
            f"Invalid filter: {where} needs an RFC 3339 date-time such as "
            '"2024-05-01T12:00:00Z".'
        )


# ---------------------------------------------------------------- evaluation


def _values(
    node_path: AttrPath, target: _Target, obj: dict[str, Any], scope: _Scope
) -> list[Any]:
    """Every value the path reaches in `obj`, flattened over multi-valued ones."""
    holder = obj if target.resolved is None else container(obj, target.resolved.urn)
    if holder is None:
        return []
    items = _flatten(ci_get(holder, target.base.name))

    if node_path.filter is not None:
        inner = _Scope(scope.rt, target.base)
        items = [
            i
            for i in items
            if isinstance(i, dict) and _evaluate(node_path.filter, i, inner)
        ]
    if target.attribute is not target.base:
        items = [ci_get(i, target.attribute.name) for i in items if isinstance(i, dict)]
        items = [i for i in items if i is not None]
    return items


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _evaluate(node: Node, obj: dict[str, Any], scope: _Scope) -> bool:
    if isinstance(node, And):
        return all(_evaluate(item, obj, scope) for item in node.items)
    if isinstance(node, Or):
        return any(_evaluate(item, obj, scope) for item in node.items)
    if isinstance(node, Not):
        return not _evaluate(node.inner, obj, scope)

    target = _resolve(node.path, scope)
    values = _values(node.path, target, obj, scope)
    if isinstance(node, HasMatch):
        return bool(values)
    if isinstance(node, Present):
        return any(v not in ("", [], {}) for v in values)

    attr = target.compared
    if attr is not target.attribute:
        values = [ci_get(v, attr.name) for v in values if isinstance(v, dict)]
        values = [v for v in values if v is not None]
    if node.value is None:
        return not values if node.op == "eq" else bool(values)
    if node.op == "ne" and not values:
        return True
    return any(_compare(node.op, attr, v, node.value) for v in values)


def _compare(op: str, attr: Attribute, actual: Any, expected: Any) -> bool:
    if attr.type == "dateTime" and op not in _SUBSTRING:
        left: Any = parse_datetime(actual) if isinstance(actual, str) else None
        right: Any = parse_datetime(expected) if isinstance(expected, str) else None
        if not isinstance(left, datetime) or not isinstance(right, datetime):
            return False
    elif isinstance(expected, str):
        if not isinstance(actual, str):
            return False
        left, right = actual, expected
        if not attr.case_exact:
            # str.lower, like the store's case-insensitive index and uniqueness
            # check: a filter must find exactly what a create would collide with.
            left, right = left.lower(), right.lower()
    elif isinstance(expected, bool) or isinstance(actual, bool):
        if type(actual) is not type(expected):
            return False
        left, right = actual, expected
    else:
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        left, right = actual, expected

    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op == "co":
        return bool(right in left)
    if op == "sw":
        return bool(left.startswith(right))
    if op == "ew":
        return bool(left.endswith(right))
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)


# ---------------------------------------------------------------- index terms


def index_terms(f: Filter, rt: ResourceType) -> dict[str, str] | None:
    """Return equalities every match must satisfy, usable as an index lookup.

    Only a top-level `eq` or an `and` chain of them yields terms (an `or` never
    does); keys are among id, userName, externalId and displayName. The caller
    still runs `matches` on what the index returns.
    """
    terms: dict[str, str] = {}
    for node in conjuncts(f.root):
        if not isinstance(node, Compare) or node.op != "eq":
            continue
        if node.path.filter is not None or node.path.sub is not None:
            continue
        resolved = resolve_name(rt, node.path.name)
        if (
            resolved is None
            or resolved.urn is not None
            or resolved.attribute is None
            or resolved.sub is not None
            or resolved.attribute.name not in _INDEXED
            or not isinstance(node.value, str)
        ):
            continue
        terms.setdefault(resolved.attribute.name, node.value)
    return terms or None


# ---------------------------------------------------------------- PATCH paths


def check_value_filter(node: Node, rt: ResourceType, parent: Attribute) -> None:
    """Validate a `[filter]` of a PATCH path against the elements of `parent`."""
    _validate(node, _Scope(rt, parent))


def element_matches(
    node: Node, element: dict[str, Any], rt: ResourceType, parent: Attribute
) -> bool:
    """Return True when one element of `parent` satisfies the value filter."""
    return _evaluate(node, element, _Scope(rt, parent))


def equality_terms(node: Node) -> list[tuple[str, Any]] | None:
    """The (sub-attribute, literal) pairs of an `eq` or and-chain of `eq`s, else None.

    A PATCH add/replace whose value filter matches nothing creates the element
    from these terms (Entra's `emails[type eq "work"].value`).
    """
    terms = []
    for conjunct in conjuncts(node):
        if (
            not isinstance(conjunct, Compare)
            or conjunct.op != "eq"
            or conjunct.value is None
            or conjunct.path.filter is not None
            or conjunct.path.sub is not None
            or "." in conjunct.path.name
        ):
            return None
        terms.append((conjunct.path.name, conjunct.value))
    return terms
