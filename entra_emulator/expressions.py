"""Entra attribute-mapping expressions: parser, evaluator and Graph source JSON.

Syntax as the provisioning service writes it in a job schema: `[attribute]` for a
source attribute, `"text"` for a constant (backslash escapes a quote), numbers, and
`Function(arg, arg, ...)` where an argument may be empty (`Switch([x], , "a", "b")`).
Implemented functions: Switch, Join, Not, Coalesce, ToLower, ToUpper, Append, Left,
IsNull, IsNullOrEmpty, IsPresent, StripSpaces, Split. `IsSoftDeleted` is a computed
attribute (`[IsSoftDeleted]`), as in Entra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ExpressionError

__all__ = [
    "FUNCTIONS",
    "Attribute",
    "Call",
    "Constant",
    "Node",
    "compile_source",
    "evaluate",
    "parse",
    "to_source_json",
    "to_text",
]


@dataclass(frozen=True)
class Attribute:
    name: str


@dataclass(frozen=True)
class Constant:
    value: str | None


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Attribute | Constant | Call


def _text(value: Any) -> str | None:
    """Render a value the way Entra turns it into a string (booleans as True/False)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return _text(value[0]) if value else None
    return str(value)


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ExpressionError(f"Not() needs a boolean, got {value!r}.")


def _switch(args: Sequence[Any]) -> Any:
    source, default, pairs = _text(args[0]), args[1], args[2:]
    if source is not None:
        for key, value in zip(pairs[0::2], pairs[1::2], strict=True):
            if _text(key) is not None and source.lower() == str(_text(key)).lower():
                return value
    return default


def _join(args: Sequence[Any]) -> str | None:
    separator = _text(args[0]) or ""
    parts: list[str] = []
    for value in args[1:]:
        values = value if isinstance(value, list) else [value]
        parts.extend(str(_text(v)) for v in values if _text(v) not in (None, ""))
    return separator.join(parts) if parts else None


def _coalesce(args: Sequence[Any]) -> Any:
    return next((v for v in args if v is not None and v not in ("", [])), None)


def _append(args: Sequence[Any]) -> str | None:
    source = _text(args[0])
    return None if source is None else source + (_text(args[1]) or "")


def _left(args: Sequence[Any]) -> str | None:
    source = _text(args[0])
    count = _text(args[1])
    if count is None or not count.isdigit():
        raise ExpressionError(f"Left() needs a number of characters, got {args[1]!r}.")
    return None if source is None else source[: int(count)]


def _split(args: Sequence[Any]) -> list[str] | None:
    source = _text(args[0])
    return None if source is None else source.split(_text(args[1]) or ",")


def _map_text(fn: Callable[[str], str]) -> Callable[[Sequence[Any]], str | None]:
    def apply(args: Sequence[Any]) -> str | None:
        source = _text(args[0])
        return None if source is None else fn(source)

    return apply


def _not(args: Sequence[Any]) -> bool | None:
    value = _bool(args[0])
    return None if value is None else not value


# name -> (minimum arguments, maximum arguments or None, implementation, parameter keys)
FUNCTIONS: dict[
    str, tuple[int, int | None, Callable[[Sequence[Any]], Any], list[str]]
] = {
    "Switch": (4, None, _switch, ["source", "defaultValue", "key", "value"]),
    "Join": (2, None, _join, ["separator", "source"]),
    "Not": (1, 1, _not, ["source"]),
    "Coalesce": (1, None, _coalesce, ["source"]),
    "ToLower": (1, 2, _map_text(str.lower), ["source", "culture"]),
    "ToUpper": (1, 2, _map_text(str.upper), ["source", "culture"]),
    "Append": (2, 2, _append, ["source", "suffix"]),
    "Left": (2, 2, _left, ["source", "numChars"]),
    "StripSpaces": (1, 1, _map_text(lambda s: s.replace(" ", "")), ["source"]),
    "Split": (2, 2, _split, ["source", "delimiter"]),
    "IsNull": (1, 1, lambda a: a[0] is None, ["Expression"]),
    "IsNullOrEmpty": (1, 1, lambda a: a[0] in (None, "", []), ["Expression"]),
    "IsPresent": (1, 1, lambda a: a[0] not in (None, "", []), ["Expression"]),
}
_CANONICAL = {name.lower(): name for name in FUNCTIONS}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> ExpressionError:
        return ExpressionError(
            f"Cannot parse expression {self.text!r}: {why} at {self.pos}."
        )

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def node(self) -> Node:
        char = self.peek()
        if char == "[":
            end = self.text.find("]", self.pos)
            if end < 0:
                raise self.fail("unclosed [")
            name = self.text[self.pos + 1 : end].strip()
            self.pos = end + 1
            if not name:
                raise self.fail("empty attribute name")
            return Attribute(name)
        if char == '"':
            return Constant(self.string())
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "_.-"
        ):
            self.pos += 1
        word = self.text[start : self.pos]
        if not word:
            raise self.fail(f"unexpected {char!r}" if char else "unexpected end")
        if self.peek() == "(":
            return self.call(word)
        if word.replace(".", "", 1).lstrip("-").isdigit():
            return Constant(word)
        raise self.fail(f"bare word {word!r} (quote constants, bracket attributes)")

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
            elif char == '"':
                self.pos += 1
                return "".join(out)
            else:
                out.append(char)
                self.pos += 1
        raise self.fail("unclosed string")

    def call(self, word: str) -> Call:
        name = _CANONICAL.get(word.lower())
        if name is None:
            raise ExpressionError(
                f"Unknown function {word!r} in {self.text!r}; the emulator implements "
                f"{', '.join(sorted(FUNCTIONS))}."
            )
        self.pos += 1
        args: list[Node] = []
        while True:
            if self.peek() in (",", ")"):
                args.append(
                    Constant(None)
                )  # an empty argument, as in Switch([x], , ...)
            else:
                args.append(self.node())
            char = self.peek()
            self.pos += 1
            if char == ")":
                break
            if char != ",":
                raise self.fail("expected , or )")
        if args == [Constant(None)]:
            args = []
        _check_arity(name, len(args))
        return Call(name, tuple(args))


def _check_arity(name: str, count: int) -> None:
    low, high, _, _ = FUNCTIONS[name]
    if count < low or (high is not None and count > high):
        most = "any number of" if high is None else str(high)
        raise ExpressionError(f"{name}() takes {low} to {most} arguments, got {count}.")
    if name == "Switch" and count % 2:
        raise ExpressionError("Switch() needs a source, a default and key/value pairs.")


def parse(text: str) -> Node:
    """Parse one mapping expression; raise ExpressionError when malformed."""
    parser = _Parser(text)
    node = parser.node()
    if parser.peek():
        raise parser.fail("trailing input")
    return node


def evaluate(node: Node, source: Mapping[str, Any]) -> Any:
    """Evaluate against source attributes (keys matched without regard to case)."""
    if isinstance(node, Constant):
        return node.value
    if isinstance(node, Attribute):
        if node.name in source:
            return source[node.name]
        lowered = node.name.lower()
        return next((v for k, v in source.items() if k.lower() == lowered), None)
    args = [evaluate(arg, source) for arg in node.args]
    return FUNCTIONS[node.name][2](args)


def to_text(node: Node) -> str:
    """Render a node back into Entra's expression syntax."""
    if isinstance(node, Attribute):
        return f"[{node.name}]"
    if isinstance(node, Constant):
        if node.value is None:
            return ""
        return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    inner = ", ".join(to_text(arg) for arg in node.args)
    return f"{node.name}({inner})"


def _param_key(name: str, index: int) -> str:
    keys = FUNCTIONS[name][3]
    if index < len(keys):
        return keys[index]
    return keys[2 + index % 2] if name == "Switch" else keys[-1]


def to_source_json(node: Node) -> dict[str, Any]:
    """Return the Graph attributeMappingSource object for a node."""
    if isinstance(node, Attribute):
        return {
            "expression": to_text(node),
            "name": node.name,
            "parameters": [],
            "type": "Attribute",
        }
    if isinstance(node, Constant):
        return {
            "expression": to_text(node),
            "name": node.value or "",
            "parameters": [],
            "type": "Constant",
        }
    params = [
        {"key": _param_key(node.name, index), "value": to_source_json(arg)}
        for index, arg in enumerate(node.args)
    ]
    return {
        "expression": to_text(node),
        "name": node.name,
        "parameters": params,
        "type": "Function",
    }


def compile_source(source: Mapping[str, Any]) -> Node:
    """Turn a schema attributeMappingSource into a node (expression text wins)."""
    expression = source.get("expression")
    if isinstance(expression, str) and expression.strip():
        return parse(expression)
    kind = str(source.get("type", "")).lower()
    name = source.get("name")
    if kind == "attribute" and isinstance(name, str) and name:
        return Attribute(name)
    if kind == "constant":
        return Constant(None if name in (None, "") else str(name))
    if kind == "function" and isinstance(name, str):
        canonical = _CANONICAL.get(name.lower())
        if canonical is None:
            raise ExpressionError(f"Unknown function {name!r} in a mapping source.")
        args = tuple(
            compile_source(p.get("value") or {}) for p in source.get("parameters") or []
        )
        _check_arity(canonical, len(args))
        return Call(canonical, args)
    raise ExpressionError(
        f"Mapping source of type {source.get('type')!r} is not valid."
    )
