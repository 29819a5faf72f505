"""Syntax of SCIM filters and PATCH paths (RFC 7644 sections 3.4.2.2 and 3.5.2).

Tokens, the syntax tree and a recursive-descent parser; meaning lives in filter.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scim_service.errors import ScimError

COMPARISONS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})

_NAME = r"(?:\$ref|[A-Za-z][\w-]*)"
_ATTR_PATH = re.compile(rf"(?:urn:\S*:)?{_NAME}(?:\.{_NAME})?", re.IGNORECASE)
_SUB_NAME = re.compile(rf"\.({_NAME})")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_MAX_DEPTH = 32
# Filters are evaluated per candidate resource, so an unbounded one lets one
# organisation hold a worker for seconds. Entra sends one comparison; people
# searching by hand a few; 50 and 4,096 characters are far beyond both.
MAX_COMPARISONS = 50
MAX_FILTER_LENGTH = 4096
_WORD = re.compile(r'[^\s()\[\]"]+')
_JSON = json.JSONDecoder()
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def filter_error(detail: str) -> ScimError:
    """Return a 400 invalidFilter error with `detail`."""
    return ScimError(400, detail, "invalidFilter")


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "(" ")" "[" "]" "string" "word" "end"
    text: str
    start: int
    value: Any = None

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def _tokens(text: str) -> Iterator[_Token]:
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            yield _Token("end", "", pos)
            return
        char = text[pos]
        if char in "()[]":
            yield _Token(char, char, pos)
            pos += 1
        elif char == '"':
            try:
                value, end = _JSON.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise filter_error(
                    f"Malformed string at position {pos + 1} of the filter: "
                    f'{exc.msg.lower()} (strings are JSON: escape \\" and \\\\).'
                ) from None
            if "\\u" in text[pos:end]:
                _check_literal(value, pos)
            yield _Token("string", text[pos:end], pos, value)
            pos = end
        else:
            match = _WORD.match(text, pos)
            assert match is not None
            yield _Token("word", match.group(), pos)
            pos = match.end()


def _check_literal(value: str, pos: int) -> None:
    """Refuse a decoded string literal holding NUL or a lone surrogate.

    No stored value holds either (bodies are checked), PostgreSQL cannot compare
    NUL and neither database can take a lone surrogate as a parameter.
    """
    found = _BAD_CHARACTER.search(value)
    if found is not None:
        name = "the NUL character" if found.group() == "\x00" else "a lone surrogate"
        raise filter_error(
            f"Invalid filter: the string at position {pos + 1} holds {name} "
            f"(\\u{ord(found.group()):04x}), which no attribute value contains."
        )


# ---------------------------------------------------------------- syntax tree


@dataclass
class AttrPath:
    """`name`, `name.sub`, `urn:...:name`, or `name[filter].sub`."""

    name: str
    filter: Node | None = None
    sub: str | None = None
    # Resolutions per (resource type, parent attribute), filled by filter.py.
    cache: dict[tuple[str, str | None], object] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __str__(self) -> str:
        text = self.name
        if self.filter is not None:
            text += f"[{self.filter}]"
        if self.sub is not None:
            text += f".{self.sub}"
        return text


@dataclass
class Compare:
    path: AttrPath
    op: str
    value: Any

    def __str__(self) -> str:
        return f"{self.path} {self.op} {json.dumps(self.value)}"


@dataclass
class Present:
    path: AttrPath

    def __str__(self) -> str:
        return f"{self.path} pr"


@dataclass
class HasMatch:
    """A bare value path, `emails[type eq "work"]`: some element matches."""

    path: AttrPath

    def __str__(self) -> str:
        return str(self.path)


@dataclass
class And:
    items: list[Node]

    def __str__(self) -> str:
        return "(" + " and ".join(str(i) for i in self.items) + ")"


@dataclass
class Or:
    items: list[Node]

    def __str__(self) -> str:
        return "(" + " or ".join(str(i) for i in self.items) + ")"


@dataclass
class Not:
    inner: Node

    def __str__(self) -> str:
        return f"not ({self.inner})"


Node = Compare | Present | HasMatch | And | Or | Not


class _Parser:
    """Recursive descent: or binds loosest, then and, then not (RFC 7644 3.4.2.2)."""

    def __init__(self, text: str, label: str = "filter") -> None:
        self.text = text
        self.label = label
        self.tokens = list(_tokens(text))
        self.index = 0
        self.depth = 0
        self.comparisons = 0
        self.in_brackets = False

    @property
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def fail(self, expected: str, token: _Token | None = None) -> ScimError:
        token = token or self.peek
        found = f"the end of the {self.label}" if token.kind == "end" else None
        found = found or f"'{token.text}'"
        return filter_error(
            f"Invalid {self.label}: expected {expected} at position {token.start + 1}, "
            f"found {found}."
        )

    def expect(self, kind: str, expected: str) -> _Token:
        if self.peek.kind != kind:
            raise self.fail(expected)
        return self.advance()

    def parse(self) -> Node:
        node = self.parse_or()
        if self.peek.kind != "end":
            raise self.fail("'and', 'or' or the end of the filter")
        return node

    # Chains of and/or are kept flat, so evaluation depth only grows with
    # parentheses, which are bounded.
    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek.is_word("or"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(items)

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while self.peek.is_word("and"):
            self.advance()
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(items)

    def parse_group(self, closing: str) -> Node:
        """Parse the filter inside '(' ... ')' (the '(' already consumed)."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise filter_error(
                f"Invalid {self.label}: more than {_MAX_DEPTH} nested parentheses "
                f"at position {self.peek.start + 1}."
            )
        inner = self.parse_or()
        self.expect(")", closing)
        self.depth -= 1
        return inner

    def parse_unary(self) -> Node:
        token = self.peek
        if token.is_word("not") and self.tokens[self.index + 1].kind == "(":
            self.advance()
            self.advance()
            return Not(self.parse_group("')' closing 'not ('"))
        if token.is_word("not") and self.tokens[self.index + 1].kind == "word":
            self.advance()
            raise self.fail("'(' after 'not' (the form is: not (filter))")
        if token.kind == "(":
            self.advance()
            return self.parse_group("')'")
        if token.kind == "word":
            return self.parse_attr_expression()
        raise self.fail("an attribute name, 'not (' or '('")

    def parse_attr_expression(self) -> Node:
        token = self.advance()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise filter_error(
                f"Invalid {self.label}: more than {MAX_COMPARISONS} comparisons "
                f"(the limit of this service) at position {token.start + 1}; "
                "split the query into several requests."
            )
        if not _ATTR_PATH.fullmatch(token.text):
            raise self.fail("an attribute name", token)
        path = AttrPath(token.text)

        if self.peek.kind == "[":
            if self.in_brackets:
                raise self.fail("a comparison (value paths do not nest)")
            self.advance()
            self.in_brackets = True
            path.filter = self.parse_or()
            self.in_brackets = False
            self.expect("]", "']' closing the value filter")
            after = self.peek
            if after.kind != "word" or not after.text.startswith("."):
                return HasMatch(path)
            match = _SUB_NAME.fullmatch(after.text)
            if match is None:
                raise self.fail("'.subAttribute' after ']'", after)
            path.sub = match.group(1)
            self.advance()

        op_token = self.advance()
        op = op_token.text.lower() if op_token.kind == "word" else ""
        if op == "pr":
            return Present(path)
        if op not in COMPARISONS:
            raise self.fail(
                "an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)", op_token
            )
        return Compare(path, op, self.parse_value())

    def parse_value(self) -> Any:
        token = self.advance()
        if token.kind == "string":
            return token.value
        if token.kind == "word":
            lowered = token.text.lower()
            if lowered in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[lowered]
            if _NUMBER.fullmatch(token.text):
                try:
                    return json.loads(token.text)
                except ValueError:
                    # Python refuses integers of more than 4,300 digits.
                    raise filter_error(
                        f"Invalid {self.label}: the number at position "
                        f"{token.start + 1} has {len(token.text)} characters; "
                        "no attribute holds such a number."
                    ) from None
        raise self.fail(
            'a value (a "quoted string", a number, true, false or null)', token
        )


def conjuncts(node: Node) -> Iterator[Node]:
    if isinstance(node, And):
        for item in node.items:
            yield from conjuncts(item)
    else:
        yield node


def parse_path(text: str) -> AttrPath:
    """Parse a PATCH path: attrPath, or valuePath with an optional `.subAttr`.

    RFC 7644 3.5.2; raises ScimError 400 invalidPath with the position.
    """
    try:
        _check_length(text, "path")
        parser = _Parser(text, "path")
        token = parser.advance()
        if token.kind != "word" or not _ATTR_PATH.fullmatch(token.text):
            raise parser.fail("an attribute name", token)
        path = AttrPath(token.text)
        if parser.peek.kind == "[":
            parser.advance()
            parser.in_brackets = True
            path.filter = parser.parse_or()
            parser.expect("]", "']' closing the value filter")
            after = parser.peek
            if after.kind == "word":
                match = _SUB_NAME.fullmatch(after.text)
                if match is None:
                    raise parser.fail("'.subAttribute' after ']'", after)
                path.sub = match.group(1)
                parser.advance()
        if parser.peek.kind != "end":
            raise parser.fail("the end of the path")
    except ScimError as exc:
        raise _path_error(text, exc) from None
    return path


def _path_error(text: str, exc: ScimError) -> ScimError:
    detail = exc.detail.removeprefix("Invalid path: ").removeprefix("Invalid filter: ")
    return ScimError(400, f"Invalid path '{text}': {detail}", "invalidPath")


def parse_expression(text: str) -> Node:
    """Parse a whole filter; raise ScimError 400 invalidFilter with the position."""
    if not text.strip():
        raise filter_error("Invalid filter: the filter is empty.")
    _check_length(text, "filter")
    return _Parser(text).parse()


def _check_length(text: str, label: str) -> None:
    if len(text) > MAX_FILTER_LENGTH:
        raise filter_error(
            f"Invalid {label}: it is {len(text)} characters long; this service "
            f"accepts at most {MAX_FILTER_LENGTH}. Split the query into several "
            "requests."
        )
