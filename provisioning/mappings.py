"""Prompt's edits to a synchronization job schema (graph.md section 7), as pure JSON.

Also parses Entra's mapping expression syntax into attributeMappingSource JSON.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, TypeAlias

from provisioning.errors import MappingInvalid, SchemaUnexpected

__all__ = [
    "MappingSettings",
    "desired_schema",
    "expression_text",
    "parse_expression",
    "schema_drift",
]


class MappingSettings(Protocol):
    """The part of ProvisioningSettings the schema depends on."""

    @property
    def groups(self) -> bool: ...

    @property
    def matching(self) -> str: ...

    @property
    def user_attributes(self) -> Mapping[str, str]: ...


# Parameter keys of Entra's mapping functions, in call order, as the schema's
# attributeMappingSource.parameters name them (GET .../schema/functions). The second
# item is the group of keys a variadic tail repeats: Switch(source, defaultValue,
# key, value, key, value, ...). Empty arguments are left out of `parameters`, as
# Graph does for Replace([preferredLanguage], "-", , , "_", , ).
_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Append": (("source", "suffix"), ()),
    "AppRoleAssignments": (("source",), ()),
    "AppRoleAssignmentsComplex": (("source",), ()),
    "BitAnd": (("value1", "value2"), ()),
    "CBool": (("expression",), ()),
    "CDate": (("expression",), ()),
    "Coalesce": ((), ("source",)),
    "ConvertToBase64": (("source",), ()),
    "ConvertToUTF8Hex": (("source",), ()),
    "Count": (("attribute",), ()),
    "CStr": (("value",), ()),
    "DateAdd": (("interval", "value", "dateTime"), ()),
    "DateDiff": (("interval", "date1", "date2"), ()),
    "DateFromNum": (("value",), ()),
    "DefaultDomain": ((), ()),
    "FormatDateTime": (("source", "inputFormat", "outputFormat"), ()),
    "Guid": ((), ()),
    "IgnoreFlowIfNullOrEmpty": (("expression",), ()),
    "IIF": (("condition", "valueIfTrue", "valueIfFalse"), ()),
    "InStr": (("value1", "value2", "start", "compareType"), ()),
    "IsNothing": (("source",), ()),
    "IsNull": (("expression",), ()),
    "IsNullOrEmpty": (("expression",), ()),
    "IsPresent": (("expression",), ()),
    "IsString": (("expression",), ()),
    "Item": (("attribute", "index"), ()),
    "Join": (("separator",), ("source",)),
    "Left": (("String", "NumChars"), ()),
    "Mid": (("source", "start", "length"), ()),
    "NormalizeDiacritics": (("source",), ()),
    "Not": (("source",), ()),
    "Now": ((), ()),
    "NumFromDate": (("value",), ()),
    "PCase": (("source", "wordSeparators"), ()),
    "Prepend": (("prefix", "source"), ()),
    "RandomString": (
        (
            "Length",
            "MinimumNumbers",
            "MinimumSpecialCharacters",
            "MinimumCapital",
            "MinimumLowerCase",
            "CharactersToAvoid",
        ),
        (),
    ),
    "RemoveDuplicates": (("attribute",), ()),
    "Replace": (
        (
            "source",
            "Find",
            "RegularExpression",
            "RegularExpressionGroupName",
            "Replacement",
            "ReplacementPropertyName",
            "Template",
        ),
        (),
    ),
    "SelectUniqueValue": ((), ("uniqueValueRule",)),
    "SingleAppRoleAssignment": (("source",), ()),
    "Split": (("source", "delimiter"), ()),
    "StripSpaces": (("source",), ()),
    "Switch": (("source", "defaultValue"), ("key", "value")),
    "ToLower": (("source", "culture"), ()),
    "ToUpper": (("source", "culture"), ()),
    "Word": (("String", "WordNumber", "Delimiters"), ()),
}
_BY_LOWER = {name.lower(): name for name in _FUNCTIONS}

_PLAIN_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<attribute>\[[^\]]*\])
      | (?P<string>"(?:\\.|[^"\\])*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Attribute:
    name: str


@dataclass(frozen=True)
class _Constant:
    value: str
    bare: bool = False  # a number written without quotes: Mid([x], 1, 8)


@dataclass(frozen=True)
class _Function:
    name: str
    args: tuple[_Node | None, ...]


_Node: TypeAlias = _Attribute | _Constant | _Function


def parse_expression(text: str) -> dict[str, Any]:
    """Return the attributeMappingSource JSON for an Entra source expression.

    A plain attribute name (`userPrincipalName`) is an Attribute source; `[x]` too;
    a quoted string is a Constant; `Name(args)` a Function. Raises MappingInvalid
    with the position of the first problem.
    """
    return _source_json(_parse(text))


def expression_text(text: str) -> str:
    """Return the canonical expression text Graph stores for a source expression."""
    return _render(_parse(text))


def _parse(text: str) -> _Node:
    stripped = text.strip()
    if _PLAIN_ATTRIBUTE.fullmatch(stripped) and stripped.lower() not in _BY_LOWER:
        return _Attribute(stripped)

    tokens = _tokenize(stripped)
    node, position = _parse_node(stripped, tokens, 0)
    if node is None and tokens:
        _fail(stripped, tokens[0][2], "expected an attribute, constant or function")
    if node is None:
        raise MappingInvalid("Empty source expression: write an attribute name.")
    if position != len(tokens):
        _fail(stripped, tokens[position][2], "unexpected text after the expression")
    return node


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            if not text[position:].strip():
                break
            _fail(text, position, "unexpected character")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


def _parse_node(
    text: str, tokens: list[tuple[str, str, int]], index: int
) -> tuple[_Node | None, int]:
    """Parse one argument starting at `index`; None for an empty argument."""
    if index >= len(tokens):
        return None, index
    kind, value, _ = tokens[index]

    if kind == "attribute":
        return _Attribute(value[1:-1].strip()), index + 1
    if kind == "string":
        return _Constant(_unquote(value)), index + 1
    if kind == "number":
        return _Constant(value, bare=True), index + 1
    if kind == "punct":
        return None, index
    return _parse_call(text, tokens, index)


def _parse_call(
    text: str, tokens: list[tuple[str, str, int]], index: int
) -> tuple[_Function, int]:
    _, value, offset = tokens[index]
    if index + 1 >= len(tokens) or tokens[index + 1][1] != "(":
        _fail(text, offset, f"expected '(' after {value!r}; write attributes as [name]")
    name = _BY_LOWER.get(value.lower())
    if name is None:
        known = ", ".join(sorted(_FUNCTIONS))
        _fail(text, offset, f"unknown function {value!r} (known: {known})")

    args: list[_Node | None] = []
    index += 2
    while True:
        arg, index = _parse_node(text, tokens, index)
        if index >= len(tokens):
            _fail(text, len(text), f"missing ')' to close {name}(")
        args.append(arg)
        punct = tokens[index][1]
        index += 1
        if punct == ")":
            break
        if punct != ",":
            _fail(text, tokens[index - 1][2], "expected ',' or ')'")

    if args == [None]:
        args = []
    _parameter_keys(name, len(args), text)
    return _Function(name, tuple(args)), index


def _parameter_keys(name: str, count: int, text: str) -> list[str]:
    fixed, repeated = _FUNCTIONS[name]
    keys = list(fixed)
    while len(keys) < count and repeated:
        keys.extend(repeated)
    if count > len(keys):
        raise MappingInvalid(
            f"{name} takes at most {len(fixed)} arguments, {count} given in {text!r}."
        )
    return keys[:count]


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fail(text: str, position: int, problem: str) -> NoReturn:
    raise MappingInvalid(
        f"Cannot read source expression {text!r} at character {position + 1}: "
        f'{problem}. Write an attribute name, [attribute], "constant" or '
        f"Function(arguments) as in Entra's attribute mapping editor."
    )


def _render(node: _Node) -> str:
    if isinstance(node, _Attribute):
        return f"[{node.name}]"
    if isinstance(node, _Constant):
        return node.value if node.bare else _quote(node.value)
    args = ", ".join("" if arg is None else _render(arg) for arg in node.args)
    return f"{node.name}({args})"


def _source_json(node: _Node) -> dict[str, Any]:
    if isinstance(node, _Attribute):
        return _leaf(f"[{node.name}]", node.name, "Attribute")
    if isinstance(node, _Constant):
        return _leaf(_quote(node.value), node.value, "Constant")

    keys = _parameter_keys(node.name, len(node.args), _render(node))
    parameters = [
        {"key": key, "value": _source_json(arg)}
        for key, arg in zip(keys, node.args, strict=True)
        if arg is not None
    ]
    return {
        "expression": _render(node),
        "name": node.name,
        "parameters": parameters,
        "type": "Function",
    }


def _leaf(expression: str, name: str, kind: str) -> dict[str, Any]:
    return {"expression": expression, "name": name, "parameters": [], "type": kind}


def desired_schema(
    current: dict[str, Any], settings: MappingSettings
) -> dict[str, Any]:
    """Return the schema to PUT: `current` (raw GET JSON) with Prompt's edits.

    Groups object mapping enabled only if settings.groups; Users object mapping
    enabled, with exactly the configured attribute mappings (existing ones keep
    their place and every other key; new ones are appended), matchingPriority 1 on
    the matching attribute and 0 elsewhere. Everything else - directories,
    flowTypes strings, metadata, unknown keys - is returned untouched.
    """
    wanted = _wanted_mappings(settings)
    schema = copy.deepcopy(current)
    users, groups = _object_mappings(schema)

    for mapping in groups:
        mapping["enabled"] = settings.groups
    for mapping in users:
        mapping["enabled"] = True
        mapping["attributeMappings"] = _user_mappings(
            mapping.get("attributeMappings") or [], wanted, settings.matching
        )
    return schema


def schema_drift(current: dict[str, Any], settings: MappingSettings) -> list[str]:
    """List how `current` differs from desired_schema(current); [] when in shape."""
    wanted = _wanted_mappings(settings)
    users, groups = _object_mappings(current)
    drift: list[str] = []

    for mapping in groups:
        if mapping.get("enabled") is not settings.groups:
            state, want = (
                ("disabled", "enabled") if settings.groups else ("enabled", "disabled")
            )
            drift.append(f"Groups object mapping is {state} (want {want})")
    for mapping in users:
        if mapping.get("enabled") is not True:
            drift.append("Users object mapping is disabled (want enabled)")
        drift.extend(
            _user_drift(mapping.get("attributeMappings") or [], wanted, settings)
        )
    return drift


def _wanted_mappings(settings: MappingSettings) -> dict[str, _Node]:
    wanted: dict[str, _Node] = {}
    for target, expression in settings.user_attributes.items():
        try:
            wanted[target] = _parse(expression)
        except MappingInvalid as error:
            raise MappingInvalid(f"user_attributes.{target}: {error}") from None

    if settings.matching not in wanted:
        raise MappingInvalid(
            f"Matching attribute {settings.matching!r} is not among the mapped "
            f"user attributes ({', '.join(wanted)}): map it in user_attributes or "
            f"choose one of those as provisioning.matching."
        )
    return wanted


def _object_mappings(
    schema: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the User and Group object mappings, found by sourceObjectName."""
    users: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for rule in schema.get("synchronizationRules") or []:
        for mapping in rule.get("objectMappings") or []:
            # Mapping names were renamed ("Azure Active Directory" -> "Microsoft
            # Entra ID"), so only sourceObjectName identifies them (graph.md 7.3).
            source = str(mapping.get("sourceObjectName", "")).lower()
            if source == "user":
                users.append(mapping)
            elif source == "group":
                groups.append(mapping)

    if not users:
        raise SchemaUnexpected(
            "The synchronization schema has no object mapping with "
            "sourceObjectName 'User': the job was not created from the 'scim' "
            "template. Delete the job and run apply again to recreate it."
        )
    return users, groups


def _user_mappings(
    current: list[dict[str, Any]], wanted: dict[str, _Node], matching: str
) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for mapping in current:
        target = mapping.get("targetAttributeName")
        if not isinstance(target, str) or target not in wanted or target in seen:
            continue
        seen.add(target)
        if not _same_source(mapping.get("source"), wanted[target]):
            mapping["source"] = _source_json(wanted[target])
        mapping["matchingPriority"] = 1 if target == matching else 0
        result.append(mapping)

    for target, node in wanted.items():
        if target not in seen:
            result.append(_new_mapping(target, node, 1 if target == matching else 0))
    return result


def _new_mapping(target: str, node: _Node, priority: int) -> dict[str, Any]:
    return {
        "defaultValue": None,
        "exportMissingReferences": False,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": priority,
        "source": _source_json(node),
        "targetAttributeName": target,
    }


def _user_drift(
    current: list[dict[str, Any]],
    wanted: dict[str, _Node],
    settings: MappingSettings,
) -> list[str]:
    drift: list[str] = []
    seen: set[str] = set()
    for mapping in current:
        target = str(mapping.get("targetAttributeName"))
        shown = _shown_source(mapping.get("source"))
        if target not in wanted:
            drift.append(f"user mapping {target} <- {shown} is not configured")
            continue
        if target in seen:
            drift.append(f"user mapping {target} appears more than once")
            continue
        seen.add(target)

        if not _same_source(mapping.get("source"), wanted[target]):
            drift.append(
                f"user mapping {target} maps from {shown}, "
                f"want {_render(wanted[target])}"
            )
        priority = 1 if target == settings.matching else 0
        if mapping.get("matchingPriority") != priority:
            drift.append(
                f"user mapping {target} has matchingPriority "
                f"{mapping.get('matchingPriority')}, want {priority}"
                + (" (the matching attribute)" if priority else "")
            )

    for target, node in wanted.items():
        if target not in seen:
            drift.append(f"user mapping {target} <- {_render(node)} is missing")
    return drift


def _same_source(source: Any, node: _Node) -> bool:
    """Compare by canonical expression text; Graph derives the parameters from it."""
    if not isinstance(source, dict):
        return False
    kind = {_Attribute: "Attribute", _Constant: "Constant", _Function: "Function"}
    if source.get("type") != kind[type(node)]:
        return False
    try:
        return _render(_parse(str(source.get("expression", "")))) == _render(node)
    except MappingInvalid:
        return source.get("expression") == _render(node)


def _shown_source(source: Any) -> str:
    if isinstance(source, dict) and source.get("expression"):
        return str(source["expression"])
    return "(no source)"
