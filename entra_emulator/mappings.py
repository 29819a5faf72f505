"""Read a job schema: validate it like a schema PUT, and compile its object mappings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ExpressionError, GraphError
from .expressions import Attribute, Constant, Node, compile_source

FLOW_TYPES = {
    "Always",
    "ObjectAddOnly",
    "MultiValueAddOnly",
    "ValueAddOnly",
    "AttributeAddOnly",
}
FLOW_BEHAVIORS = {"FlowWhenChanged", "FlowAlways"}
SOURCE_TYPES = {"Attribute", "Constant", "Function"}
OBJECT_FLOWS = {"Add", "Update", "Delete"}


@dataclass(frozen=True)
class AttributeRule:
    """One compiled attributeMapping."""

    target: str
    node: Node
    flow_type: str
    matching_priority: int
    default_value: str | None

    @property
    def follows_soft_delete(self) -> bool:
        """Whether the value depends on [IsSoftDeleted] (the `active` mapping)."""
        return _mentions(self.node, "issoftdeleted")


@dataclass(frozen=True)
class ObjectRule:
    """One compiled objectMapping."""

    enabled: bool
    flow_types: frozenset[str]
    source_object: str
    target_object: str
    attributes: tuple[AttributeRule, ...]

    @property
    def matching(self) -> list[AttributeRule]:
        """Matching attributes in precedence order (matchingPriority 1, 2, ...)."""
        found = [a for a in self.attributes if a.matching_priority > 0]
        return sorted(found, key=lambda a: a.matching_priority)


def _mentions(node: Node, name: str) -> bool:
    if isinstance(node, Attribute):
        return node.name.lower() == name
    if isinstance(node, Constant):
        return False
    return any(_mentions(arg, name) for arg in node.args)


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Invalid synchronization schema: {message}")


def _flow_types(value: Any, name: str) -> frozenset[str]:
    if not isinstance(value, str):
        raise _bad(
            f"objectMapping '{name}' needs flowTypes as a flags string like "
            "'Add, Update, Delete'."
        )
    flows = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = flows - OBJECT_FLOWS - {"None"}
    if unknown:
        raise _bad(f"objectMapping '{name}' has unknown flowTypes {sorted(unknown)}.")
    return flows


def _attribute(raw: Any, mapping_name: str) -> AttributeRule:
    if not isinstance(raw, dict) or not raw.get("targetAttributeName"):
        raise _bad(
            f"an attributeMapping of '{mapping_name}' has no targetAttributeName."
        )
    target = str(raw["targetAttributeName"])
    flow_type = raw.get("flowType", "Always")
    behavior = raw.get("flowBehavior", "FlowWhenChanged")
    source = raw.get("source")
    if flow_type not in FLOW_TYPES or behavior not in FLOW_BEHAVIORS:
        raise _bad(
            f"'{target}' has flowType {flow_type!r} / flowBehavior {behavior!r}; "
            "enum values are PascalCase."
        )
    if not isinstance(source, dict) or source.get("type") not in SOURCE_TYPES:
        raise _bad(
            f"'{target}' needs a source of type Attribute, Constant or Function."
        )
    try:
        node = compile_source(source)
    except ExpressionError as exc:
        raise _bad(f"'{target}': {exc}") from exc
    priority = raw.get("matchingPriority") or 0
    if not isinstance(priority, int) or priority < 0:
        raise _bad(f"'{target}' has matchingPriority {priority!r}.")
    default = raw.get("defaultValue")
    return AttributeRule(
        target, node, flow_type, priority, default if default else None
    )


def compile_object_mapping(raw: Any) -> ObjectRule:
    if not isinstance(raw, dict):
        raise _bad("objectMappings entries must be objects.")
    name = str(raw.get("name") or raw.get("sourceObjectName") or "?")
    mappings = raw.get("attributeMappings")
    if not isinstance(mappings, list):
        raise _bad(f"objectMapping '{name}' has no attributeMappings list.")
    rule = ObjectRule(
        enabled=bool(raw.get("enabled", True)),
        flow_types=_flow_types(raw.get("flowTypes"), name),
        source_object=str(raw.get("sourceObjectName") or ""),
        target_object=str(raw.get("targetObjectName") or ""),
        attributes=tuple(_attribute(m, name) for m in mappings),
    )
    if rule.enabled and not rule.matching:
        raise _bad(
            f"objectMapping '{name}' is enabled but has no matching attribute "
            "(matchingPriority >= 1)."
        )
    return rule


def validate_schema(schema: Any) -> None:
    """Refuse what the provisioning service would refuse on PUT .../schema (400)."""
    if not isinstance(schema, dict):
        raise _bad("the body must be a synchronizationSchema object.")
    rules = schema.get("synchronizationRules")
    if not isinstance(rules, list) or not rules:
        raise _bad("synchronizationRules must be a non-empty list.")
    for rule in rules:
        if not isinstance(rule, dict) or not rule.get("id"):
            raise _bad("every synchronizationRule needs an id.")
        for mapping in rule.get("objectMappings") or []:
            compile_object_mapping(mapping)
    if not isinstance(schema.get("directories", []), list):
        raise _bad("directories must be a list.")


def rule_ids(schema: dict[str, Any]) -> set[str]:
    return {str(rule.get("id")) for rule in schema.get("synchronizationRules") or []}


def object_rule(schema: dict[str, Any], source_object: str) -> ObjectRule | None:
    """Compile the first object mapping whose sourceObjectName matches (e.g. "User")."""
    for rule in schema.get("synchronizationRules") or []:
        for mapping in rule.get("objectMappings") or []:
            if (
                str(mapping.get("sourceObjectName", "")).lower()
                == source_object.lower()
            ):
                return compile_object_mapping(mapping)
    return None


def first_matching_target(schema: dict[str, Any], source_object: str) -> str | None:
    rule = object_rule(schema, source_object)
    if rule is None or not rule.matching:
        return None
    return rule.matching[0].target


__all__ = [
    "AttributeRule",
    "ObjectRule",
    "compile_object_mapping",
    "first_matching_target",
    "object_rule",
    "rule_ids",
    "validate_schema",
]
