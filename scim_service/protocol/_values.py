"""Check and coerce incoming attribute values to their stored form (RFC 7643 2.3).

Values are kept as sent except where Entra's client is known to deviate: string
booleans, `manager` as a bare id or a one-element list, and JSON nulls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scim_service.errors import ScimError
from scim_service.protocol._path import ci_get
from scim_service.protocol.schema import ENTERPRISE_USER, SCHEMAS, Attribute

_manager = SCHEMAS[ENTERPRISE_USER].attribute("manager")
assert _manager is not None
MANAGER: Attribute = _manager

_BOOLEAN_STRINGS = {"true": True, "false": False}


def invalid(detail: str) -> ScimError:
    """Return a 400 invalidValue error with `detail`."""
    return ScimError(400, detail, "invalidValue")


def _type_error(where: str, expected: str, value: object) -> ScimError:
    return invalid(f"Attribute '{where}' must be {expected}; got {_describe(value)}.")


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'the string "{shown}"'
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_datetime(text: str) -> datetime | None:
    """Parse an RFC 3339 / xsd:dateTime string; naive values are taken as UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def coerce_boolean(value: object, where: str) -> bool:
    """Accept a JSON boolean or Entra's legacy "True"/"False" strings (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEAN_STRINGS:
        return _BOOLEAN_STRINGS[value.strip().lower()]
    raise _type_error(
        where, 'a boolean (true/false, or the string "True"/"False")', value
    )


def coerce_simple(attr: Attribute, value: object, where: str) -> Any:
    """Check a non-complex value against the attribute's type; return it as stored."""
    kind = attr.type
    if kind == "boolean":
        return coerce_boolean(value, where)
    if kind in ("string", "reference", "binary"):
        if not isinstance(value, str):
            raise _type_error(where, "a string", value)
        return value
    if kind == "dateTime":
        if not isinstance(value, str) or parse_datetime(value) is None:
            raise _type_error(where, "an RFC 3339 date-time string", value)
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(where, "an integer", value)
        return value
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(where, "a number", value)
        return value
    raise _type_error(where, f"a {kind} value", value)


def coerce_element(attr: Attribute, value: object, where: str) -> Any:
    """Coerce one value of `attr` (one element if multi-valued); None = unassigned."""
    if value is None:
        return None
    if attr is MANAGER:
        return coerce_manager(value, where)
    if attr.type != "complex":
        return coerce_simple(attr, value, where)

    if not isinstance(value, dict):
        raise _type_error(where, "an object with sub-attributes", value)
    out: dict[str, Any] = {}
    for key, sub_value in value.items():
        sub = attr.sub(key)
        if sub is None:
            known = ", ".join(s.name for s in attr.sub_attributes)
            raise invalid(
                f"Attribute '{where}' has no sub-attribute '{key}' (known: {known})."
            )
        # RFC 7644 3.3: read-only values in a request are ignored, not refused.
        if sub.mutability == "readOnly":
            continue
        coerced = coerce_element(sub, sub_value, f"{where}.{sub.name}")
        if coerced is not None:
            out[sub.name] = coerced
    return out or None


def coerce_value(attr: Attribute, value: object, where: str) -> Any:
    """Coerce a whole attribute value; multi-valued ones become lists. None = unset.

    A single object sent for a multi-valued attribute is taken as a one-element
    list; an empty list is the same as unassigned (RFC 7643 2.5).
    """
    if value is None:
        return None
    if not attr.multi_valued:
        return coerce_element(attr, value, where)

    items = value if isinstance(value, list) else [value]
    out = []
    for index, item in enumerate(items):
        coerced = coerce_element(attr, item, f"{where}[{index}]")
        if coerced is not None:
            out.append(coerced)
    primaries = [e for e in out if isinstance(e, dict) and e.get("primary") is True]
    if len(primaries) > 1:
        raise invalid(
            f"Attribute '{where}' has {len(primaries)} values with primary true; "
            "at most one may be primary (RFC 7643 section 2.4)."
        )
    return out or None


def coerce_manager(value: object, where: str) -> dict[str, Any] | None:
    """Entra sends manager as a bare id, {"value": id} or [{"value": id}].

    The stored (and returned) form is RFC 7643 4.3's {"value": id}; an empty
    string, empty list or empty value clears the manager.
    """
    if isinstance(value, list):
        if len(value) > 1:
            raise invalid(f"Attribute '{where}' takes one manager; got {len(value)}.")
        return coerce_manager(value[0], where) if value else None
    if isinstance(value, str):
        return {"value": value} if value else None
    if isinstance(value, dict):
        if not value:
            return None
        parsed = coerce_element(MANAGER_OBJECT, value, where) or {}
        manager_id = parsed.get("value")
        if manager_id is None and ci_get(value, "$ref"):
            raise invalid(f"Attribute '{where}' needs the manager's id in 'value'.")
        return {"value": manager_id} if manager_id else None
    raise _type_error(where, "the manager's id or an object with 'value'", value)


# What a manager object may carry on input (RFC 7643 4.3); only `value` is kept.
MANAGER_OBJECT = Attribute(
    name=MANAGER.name,
    type="complex",
    sub_attributes=(
        *MANAGER.sub_attributes,
        Attribute(name="$ref", type="reference", mutability="readOnly"),
        Attribute(name="displayName", mutability="readOnly"),
    ),
)
