"""The slice of OData v4 query options Graph v1.0 clients send: $filter, $select, $top.

Supported $filter: comparisons (eq ne gt ge lt le) of a property path with a literal,
`and`, `or`, `not`, parentheses, startswith/endswith, and lambda `any`/`all` over a
collection (`tags/any(t: t eq 'x')`). Anything else answers 400 like Graph does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import GraphError

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),:])|(?P<word>[^\s(),:']+(?::\d\d(?::\d\d(?:\.\d+)?)?Z?)?))"
)
_COMPARATORS = {"eq", "ne", "gt", "ge", "lt", "le"}


def invalid_filter(text: str, why: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Invalid filter clause: {why} in '{text}'.")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise invalid_filter(text, f"unexpected character at {pos}")
        kind = match.lastgroup or "word"
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind: str, raw: str) -> Any:
    if kind == "str":
        return raw[1:-1].replace("''", "'")
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z?", raw):
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return raw  # GUID literals are written unquoted in OData


def _resolve(item: Any, path: str) -> Any:
    for part in path.split("/"):
        if not isinstance(item, dict):
            return None
        item = item.get(part)
    return item


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        try:
            left = datetime.fromisoformat(left.replace("Z", "+00:00"))
        except ValueError:
            return False
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.casefold(), right.casefold()  # Graph string eq ignores case
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        outcome = {
            "gt": left > right,
            "ge": left >= right,
            "lt": left < right,
            "le": left <= right,
        }[op]
    except TypeError:
        return False
    return bool(outcome)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.pos = 0
        self.properties: set[str] = set()

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1].lower() != value):
            raise invalid_filter(self.text, f"expected {value or 'more input'}")
        self.pos += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise invalid_filter(self.text, f"unexpected '{self.peek()}'")
        return pred

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while (tok := self.peek()) is not None and tok[1].lower() == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else lambda it: any(p(it) for p in parts)

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while (tok := self.peek()) is not None and tok[1].lower() == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else lambda it: all(p(it) for p in parts)

    def unary(self) -> Predicate:
        tok = self.peek()
        if tok is not None and tok[1].lower() == "not":
            self.take()
            inner = self.unary()
            return lambda it: not inner(it)
        if tok is not None and tok[1] == "(":
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        return self.primary()

    def value(self) -> Any:
        kind, raw = self.take()
        if kind == "punct":
            raise invalid_filter(self.text, f"expected a literal, got '{raw}'")
        return _literal(kind, raw)

    def primary(self) -> Predicate:
        kind, word = self.take()
        if kind != "word":
            raise invalid_filter(self.text, f"expected a property, got {word}")
        lowered = word.lower()
        if lowered in ("startswith", "endswith"):
            return self.string_function(lowered)
        if lowered.endswith(("/any", "/all")):
            return self.lambda_expr(word[:-4], lowered[-3:])
        op = self.take()[1].lower()
        if op not in _COMPARATORS:
            raise invalid_filter(self.text, f"unsupported operator {op}")
        right = self.value()
        self.properties.add(word)
        return lambda it: _compare(_resolve(it, word), op, right)

    def string_function(self, name: str) -> Predicate:
        self.take("(")
        path = self.take()[1]
        self.properties.add(path)
        self.take(",")
        arg = str(self.value()).casefold()
        self.take(")")

        def check(it: dict[str, Any]) -> bool:
            value = _resolve(it, path)
            if not isinstance(value, str):
                return False
            folded = value.casefold()
            return (
                folded.startswith(arg) if name == "startswith" else folded.endswith(arg)
            )

        return check

    def lambda_expr(self, path: str, quantifier: str) -> Predicate:
        self.properties.add(path)
        self.take("(")
        var = self.take()[1]
        self.take(":")
        subject = self.take()[1]
        op = self.take()[1].lower()
        right = self.value()
        self.take(")")
        sub = subject[len(var) + 1 :] if subject.startswith(var + "/") else None
        if subject != var and sub is None:
            raise invalid_filter(self.text, f"lambda must compare {var}")

        def check(it: dict[str, Any]) -> bool:
            items = _resolve(it, path) or []
            values = [item if sub is None else _resolve(item, sub) for item in items]
            hits = [_compare(v, op, right) for v in values]
            return any(hits) if quantifier == "any" else all(hits)

        return check


def parse_filter(text: str, filterable: frozenset[str] | None = None) -> Predicate:
    """Compile an OData $filter string into a predicate over Graph JSON objects.

    With `filterable`, a clause on any other property answers 400 as Graph does for
    properties that do not support $filter (e.g. servicePrincipal notes).
    """
    parser = _Parser(text)
    predicate = parser.parse()
    if filterable is not None:
        for prop in sorted(parser.properties):
            if prop not in filterable:
                raise GraphError(
                    400,
                    "Request_UnsupportedQuery",
                    f"Unsupported or invalid query filter clause specified for "
                    f"property '{prop}'.",
                )
    return predicate


def apply_select(item: dict[str, Any], select: str | None) -> dict[str, Any]:
    """Keep only the $select-ed properties (plus @odata annotations)."""
    if not select:
        return item
    wanted = {name.strip() for name in select.split(",") if name.strip()}
    return {k: v for k, v in item.items() if k in wanted or k.startswith("@odata")}


def error_body(code: str, message: str, request_id: str, date: str) -> dict[str, Any]:
    """Return the ODataError JSON Graph sends with every non-2xx answer."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": date,
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }
