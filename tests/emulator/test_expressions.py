"""Entra mapping expressions: the parser, each function, and schema source JSON."""

from __future__ import annotations

from typing import Any

import pytest

from entra_emulator.errors import ExpressionError
from entra_emulator.expressions import (
    Attribute,
    Call,
    Constant,
    compile_source,
    evaluate,
    parse,
    to_source_json,
    to_text,
)

ACTIVE = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'
SOURCE: dict[str, Any] = {
    "givenName": "Ada",
    "surname": "Lovelace",
    "mail": None,
    "userPrincipalName": "Ada.Lovelace@Contoso.example",
    "mailNickname": "ada",
    "department": "R&D",
    "empty": "",
    "accountEnabled": True,
    "IsSoftDeleted": False,
    "proxyAddresses": ["smtp:a@x.example", "SMTP:b@x.example"],
}


def test_parse_switch_with_empty_argument() -> None:
    node = parse(ACTIVE)
    assert node == Call(
        "Switch",
        (
            Attribute("IsSoftDeleted"),
            Constant(None),
            Constant("False"),
            Constant("True"),
            Constant("True"),
            Constant("False"),
        ),
    )
    assert to_text(node) == ACTIVE


def _cases(*rows: tuple[str, Any]) -> Any:
    """Parametrize (expression, expected) rows, each test id the expression itself."""
    return pytest.mark.parametrize(
        ("expression", "expected"), rows, ids=[row[0] for row in rows]
    )


@_cases(
    ("[givenName]", "Ada"),
    ("[GIVENNAME]", "Ada"),  # attribute names ignore case
    ("[mail]", None),
    ("[noSuchAttribute]", None),
    ('"constant"', "constant"),
    ('"say \\"hi\\""', 'say "hi"'),
    ("42", "42"),
)
def test_attribute_and_constant(expression: str, expected: Any) -> None:
    assert evaluate(parse(expression), SOURCE) == expected


@_cases(
    (ACTIVE, "True"),
    ('Switch([department], "Other", "Sales", "S", "R&D", "R")', "R"),
    ('Switch([department], "Other", "Sales", "S")', "Other"),  # no key: default
    ('Switch([department], , "Sales", "S")', None),  # no key, empty default
    ('Switch([department], "Other", "r&d", "R")', "R"),  # keys ignore case
    ('Switch([mail], "none", "x", "y")', "none"),  # null source: the default
    ('Switch([department], "d", "R&D", [surname])', "Lovelace"),  # value from source
    ('switch([IsSoftDeleted], "d", "False", "on")', "on"),  # names ignore case
)
def test_switch(expression: str, expected: Any) -> None:
    assert evaluate(parse(expression), SOURCE) == expected


@_cases(
    ('Join(" ", [givenName], [surname])', "Ada Lovelace"),
    ('Join(" ", [givenName], [mail], [surname])', "Ada Lovelace"),  # nulls skipped
    ('Join("", [givenName], [surname])', "AdaLovelace"),
    ('Join(",", [proxyAddresses])', "smtp:a@x.example,SMTP:b@x.example"),
    (
        'Join("-", [proxyAddresses], [givenName])',
        "smtp:a@x.example-SMTP:b@x.example-Ada",
    ),
    ('Join(" ", [mail])', None),
)
def test_join(expression: str, expected: Any) -> None:
    assert evaluate(parse(expression), SOURCE) == expected


@_cases(
    ("Not([accountEnabled])", False),
    ("Not([IsSoftDeleted])", True),
    ('Not("True")', False),
    ('Not("false")', True),
    ("Not([mail])", None),
    ("Not(Not([accountEnabled]))", True),
)
def test_not(expression: str, expected: Any) -> None:
    assert evaluate(parse(expression), SOURCE) == expected


@_cases(
    ('Coalesce([mail], [userPrincipalName], "x")', "Ada.Lovelace@Contoso.example"),
    ('Coalesce([mail], "fallback")', "fallback"),
    ("Coalesce([empty], [givenName])", "Ada"),  # an empty string counts as missing
    ("Coalesce([givenName], [surname])", "Ada"),  # the first present value wins
    ("Coalesce([mail], [noSuchAttribute])", None),
)
def test_coalesce(expression: str, expected: Any) -> None:
    assert evaluate(parse(expression), SOURCE) == expected


@_cases(
    ("ToLower([userPrincipalName])", "ada.lovelace@contoso.example"),
    ('ToLower([userPrincipalName], "en-US")', "ada.lovelace@contoso.example"),
    ("ToLower([mailNickname])", "ada"),
    ("ToLower([mail])", None),
    ("ToLower([accountEnabled])", "true"),  # booleans render as True/False first
)
def test_to_lower(expression: str, expected: Any) -> None:
    assert evaluate(parse(expression), SOURCE) == expected


@_cases(
    ('Append([mailNickname], "@prompt.example")', "ada@prompt.example"),
    ('Append([mail], "@prompt.example")', None),  # no source, nothing to append to
    ("Append([givenName], [mail])", "Ada"),  # a null suffix appends nothing
    ('Append(Join(" ", [givenName], [surname]), " (ext)")', "Ada Lovelace (ext)"),
)
def test_append(expression: str, expected: Any) -> None:
    assert evaluate(parse(expression), SOURCE) == expected


@_cases(
    ("ToUpper([givenName])", "ADA"),
    ("ToUpper([mail])", None),
    ("Left([surname], 4)", "Love"),
    ("Left([surname], 40)", "Lovelace"),
    ("Left([mail], 4)", None),
    ("IsNull([mail])", True),
    ("IsNull([givenName])", False),
    ("IsPresent([mail])", False),
    ("IsPresent([givenName])", True),
    ("IsNullOrEmpty([givenName])", False),
    ("IsNullOrEmpty([empty])", True),
    ('StripSpaces(Join(" ", [givenName], [surname]))', "AdaLovelace"),
    ('Split([userPrincipalName], "@")', ["Ada.Lovelace", "Contoso.example"]),
    (
        'ToLower(Coalesce([mail], Append([mailNickname], "@x.example")))',
        "ada@x.example",
    ),
)
def test_other_functions(expression: str, expected: Any) -> None:
    assert evaluate(parse(expression), SOURCE) == expected


@pytest.mark.parametrize(
    ("soft_deleted", "expected"),
    [(True, "False"), (False, "True"), ("true", "False"), (None, None)],
)
def test_switch_on_is_soft_deleted(soft_deleted: Any, expected: str | None) -> None:
    assert evaluate(parse(ACTIVE), {"IsSoftDeleted": soft_deleted}) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("[givenName", "unclosed"),
        ('"open', "unclosed string"),
        ("Frobnicate([x])", "Unknown function 'Frobnicate'"),
        ('Switch([x], , "a")', "Switch"),
        ("Not([a], [b])", "Not() takes 1 to 1"),
        ("Append([a])", "Append() takes 2"),
        ("givenName", "bare word"),
        ("[a] [b]", "trailing input"),
        ('Join(" " [a])', "expected , or )"),
        ("[]", "empty attribute"),
    ],
)
def test_parse_errors(expression: str, message: str) -> None:
    with pytest.raises(
        ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        parse(expression)


def test_not_refuses_a_non_boolean() -> None:
    with pytest.raises(ExpressionError, match="boolean"):
        evaluate(parse("Not([givenName])"), SOURCE)


def test_source_json_round_trip() -> None:
    source = to_source_json(parse(ACTIVE))
    assert source["type"] == "Function"
    assert source["name"] == "Switch"
    assert [p["key"] for p in source["parameters"]] == [
        "source",
        "defaultValue",
        "key",
        "value",
        "key",
        "value",
    ]
    assert source["parameters"][0]["value"] == {
        "expression": "[IsSoftDeleted]",
        "name": "IsSoftDeleted",
        "parameters": [],
        "type": "Attribute",
    }
    # Without the expression text, the parameter tree alone compiles to the same node.
    assert compile_source({**source, "expression": ""}) == parse(ACTIVE)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"type": "Attribute", "name": "objectId", "expression": "[objectId]"}, "id-1"),
        ({"type": "Attribute", "name": "objectId"}, "id-1"),
        (
            {"type": "Constant", "name": "Engineering", "expression": '"Engineering"'},
            "Engineering",
        ),
        ({"type": "Constant", "name": "Engineering"}, "Engineering"),
    ],
)
def test_compile_schema_sources(source: dict[str, Any], expected: str) -> None:
    assert evaluate(compile_source(source), {"objectId": "id-1"}) == expected


def test_compile_refuses_unknown_source_type() -> None:
    with pytest.raises(ExpressionError, match="not valid"):
        compile_source({"type": "Magic", "name": "x"})
