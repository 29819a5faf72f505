"""Line-aware strict YAML loading for organisation files (PyYAML compose API).

Keeps, for every value, the line it came from and whether it was a plain scalar, so
the spec can reject YAML 1.1/1.2 booleans, numbers and nulls where text is meant.
Tags, recursive aliases and alias expansion past MAX_ALIAS_VALUES become problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "MAX_ALIAS_VALUES",
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

# Aliases share one node, so a few hundred bytes can expand to billions of values
# ("billion laughs"). A whole organisation file is a few dozen values; values
# written out in full do not count, only the copies aliases make.
MAX_ALIAS_VALUES = 10_000
# Organisation files nest four levels deep; the cap keeps Python's stack safe.
MAX_DEPTH = 64

_STR = "tag:yaml.org,2002:str"
_TOO_DEEP = "nested far too deeply; organisation files nest only a few levels"
_TOO_MANY = (
    f"aliases (*name) expand to more than {MAX_ALIAS_VALUES:,} values; "
    "organisation files are small: write the values out instead"
)
_TAG_PROBLEM = (
    "YAML tags (!name, !!type) are not allowed here; remove the tag (only !!str, "
    "which makes the value text, is accepted)"
)


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

    def problem(self, path: Located, line: int, message: str) -> None:
        """Record a problem found while reading the YAML."""
        self.problems.append((path, line, message))

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


class _Loader(yaml.SafeLoader):
    """SafeLoader that remembers which nodes were written with a tag."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.tagged: set[int] = set()

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # stubs: untyped
        node = super().compose_node(parent, index)
        # An alias brings back an earlier node; its tag was seen there.
        if node is not None and not isinstance(event, AliasEvent) and event.tag:
            self.tagged.add(id(node))
        return node


def load_yaml(text: str) -> Loaded:
    """Compose one YAML document and convert it, keeping lines and scalar styles.

    Raises YamlSyntaxError when the text is not YAML. Tags, recursive aliases and
    too many values made by aliases are recorded in `problems`; past the alias cap
    `data` is None and that is the only problem.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"not valid YAML: {exc.problem}"
        if exc.context and exc.context_mark is not None:
            message += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise YamlSyntaxError(message, line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", None) from None
    except RecursionError:
        # PyYAML's composer recurses once per nesting level.
        raise YamlSyntaxError(_TOO_DEEP, None) from None
    finally:
        loader.dispose()

    loaded = Loaded(data=None)
    if node is None:
        return loaded

    loaded.lines[()] = node.start_mark.line + 1
    try:
        loaded.data = _Converter(loaded, loader.tagged).convert(node, ())
    except _Refused as exc:
        loaded.data = None
        loaded.problems[:] = [(exc.path, exc.line, str(exc))]
    return loaded


class _Refused(Exception):
    """The whole file is refused; `path` is the top-level key it happened under."""

    def __init__(self, message: str, path: Located, loaded: Loaded, line: int) -> None:
        super().__init__(message)
        self.path = tuple(p for p in path[:1] if isinstance(p, str))
        self.line = loaded.line_of(self.path) or line


class _Converter:
    """Turn a node graph into plain data, refusing what YAML should not do here."""

    def __init__(self, loaded: Loaded, tagged: set[int]) -> None:
        self.loaded = loaded
        self.tagged = tagged
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.copies = 0

    def convert(self, node: Node, path: Located) -> Any:
        """Return the value of `node` at `path`; None where a problem was recorded."""
        line = node.start_mark.line + 1
        if id(node) in self.active:
            # The alias's own line: the node's is where the anchor was written.
            self.loaded.problem(
                path,
                self.loaded.lines.get(path, line),
                "a YAML alias refers to a value that contains it "
                "(recursive alias); write the value out",
            )
            return None
        if len(path) > MAX_DEPTH:
            raise _Refused(_TOO_DEEP, path, self.loaded, line)

        # A node met again is a copy made by an alias.
        if id(node) in self.seen:
            self.copies += 1
            if self.copies > MAX_ALIAS_VALUES:
                raise _Refused(_TOO_MANY, path, self.loaded, line)
        self.seen.add(id(node))

        self.active.add(id(node))
        try:
            return self._value(node, path, line)
        finally:
            self.active.discard(id(node))

    def _value(self, node: Node, path: Located, line: int) -> Any:
        tagged = id(node) in self.tagged
        if tagged and not (isinstance(node, ScalarNode) and node.tag == _STR):
            # Unknown tags (!custom) have no constructor, python/* ones run code
            # in unsafe loaders, and the rest only change types: none belongs here.
            self.loaded.problem(path, line, _TAG_PROBLEM)
            if isinstance(node, ScalarNode):
                self.loaded.scalars[path] = Scalar(node.value, plain=False, line=line)
                return node.value

        if isinstance(node, MappingNode):
            return self._mapping(node, path)

        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.loaded.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.convert(item, (*path, index)))
            return items

        assert isinstance(node, ScalarNode)
        # An explicit !!str makes the value text however it is written.
        plain = node.style is None and not tagged
        self.loaded.scalars[path] = Scalar(raw=node.value, plain=plain, line=line)
        if tagged:
            return node.value
        try:
            return SafeConstructor().construct_object(node, deep=True)
        except ValueError:
            # A plain 2020-13-45 matches YAML's timestamp form but is no date;
            # keep the text, and the spec says how YAML reads it.
            return node.value

    def _mapping(self, node: MappingNode, path: Located) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1

            # Keys are names: take the text as written so `no:` or `1:` stay names.
            if (
                not isinstance(key_node, ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                self.loaded.problem(path, line, "keys must be plain names")
                continue

            key = key_node.value
            if key in result:
                self.loaded.problem((*path, key), line, "duplicate key")
                continue

            self.loaded.lines[(*path, key)] = line
            result[key] = self.convert(value_node, (*path, key))
        return result
