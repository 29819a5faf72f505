"""Line-aware strict YAML loading for organisation files (PyYAML compose API).

Keeps, for every value, the line it came from and whether it was a plain scalar, so
the spec can reject YAML 1.1/1.2 booleans, numbers and nulls where text is meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "Loaded",
    "Located",
    "Scalar",
    "YamlSyntaxError",
    "load_yaml",
    "yaml_reading",
]

Located = tuple[str | int, ...]

# Plain scalars some YAML reader (1.1 as PyYAML, or 1.2 core as most editors and
# Go/JS tools) turns into something other than text. Quoting them keeps them text.
_BOOL = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
                   r"|on|On|ON|off|Off|OFF)$")  # fmt: skip
_NULL = re.compile(r"^(~|null|Null|NULL|)$")
_INT = re.compile(
    r"^[-+]?(0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*"
    r"|[1-9][0-9_]*(:[0-5]?[0-9])+)$"
)
_FLOAT = re.compile(
    r"^([-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$"
)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?$")


class YamlSyntaxError(ValueError):
    """The text is not well-formed YAML; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Scalar:
    """How a scalar was written: its raw text and whether it was unquoted."""

    raw: str
    plain: bool
    line: int


@dataclass
class Loaded:
    """Plain Python data plus where each value was written."""

    data: Any
    lines: dict[Located, int] = field(default_factory=dict)
    scalars: dict[Located, Scalar] = field(default_factory=dict)
    problems: list[tuple[Located, int, str]] = field(default_factory=list)

    def line_of(self, path: Located) -> int | None:
        """Return the line of `path`, or of its nearest written ancestor."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def yaml_reading(raw: str) -> str | None:
    """Say what a plain scalar becomes in YAML if not text ("a boolean", ...)."""
    if _BOOL.match(raw):
        return "a boolean"
    if _NULL.match(raw):
        return "null (no value)"
    if _INT.match(raw) or _FLOAT.match(raw):
        return "a number"
    if _DATE.match(raw):
        return "a date"
    return None


def load_yaml(text: str) -> Loaded:
    """Compose one YAML document and convert it, keeping lines and scalar styles."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"not valid YAML: {exc.problem}"
        if exc.context and exc.context_mark is not None:
            message += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise YamlSyntaxError(message, line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", None) from None

    loaded = Loaded(data=None)
    if node is None:
        return loaded

    loaded.lines[()] = node.start_mark.line + 1
    loaded.data = _convert(node, (), loaded)
    return loaded


def _convert(node: Node, path: Located, loaded: Loaded) -> Any:
    if isinstance(node, MappingNode):
        return _convert_mapping(node, path, loaded)

    if isinstance(node, SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            loaded.lines[(*path, index)] = item.start_mark.line + 1
            items.append(_convert(item, (*path, index), loaded))
        return items

    assert isinstance(node, ScalarNode)
    line = node.start_mark.line + 1
    loaded.scalars[path] = Scalar(raw=node.value, plain=node.style is None, line=line)
    return SafeConstructor().construct_object(node, deep=True)


def _convert_mapping(
    node: MappingNode, path: Located, loaded: Loaded
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1

        # Keys are names: take the text as written so `no:` or `1:` stay names.
        if (
            not isinstance(key_node, ScalarNode)
            or key_node.tag == "tag:yaml.org,2002:merge"
        ):
            loaded.problems.append((path, line, "keys must be plain names"))
            continue

        key = key_node.value
        if key in result:
            loaded.problems.append(((*path, key), line, "duplicate key"))
            continue

        loaded.lines[(*path, key)] = line
        result[key] = _convert(value_node, (*path, key), loaded)
    return result
