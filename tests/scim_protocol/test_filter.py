from __future__ import annotations

import sys
from typing import Any

import pytest

from scim_service.errors import ScimError
from scim_service.protocol.filter import (
    index_terms,
    parse_filter,
    validate_filter,
)
from scim_service.protocol.schema import GROUP, USER, ResourceType

from ._data import ENTERPRISE, PROMPT, rendered_group, rendered_user

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"

USER_REP = rendered_user()
GROUP_REP = rendered_group()


def _matches(
    text: str, rep: dict[str, Any] = USER_REP, rt: ResourceType = USER
) -> bool:
    f = parse_filter(text)
    validate_filter(f, rt)
    return f.matches(rep, rt)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # eq, and the test-connection probe with a random GUID
        ('userName eq "Adele.Vance@Contoso.com"', True),
        ('userName eq "cf4d78e8-cc4f-4d5d-b8b9-183561c0104a"', False),
        # userName is not caseExact (RFC 7643 4.1.1); externalId and id are
        ('userName eq "adele.vance@contoso.com"', True),
        ('externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"', True),
        ('externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"', False),
        ('id eq "2819c223-7f76-453a-919d-413861904646"', True),
        ('id eq "2819C223-7F76-453A-919D-413861904646"', False),
        # every operator
        ('userName ne "someone@contoso.com"', True),
        ('userName ne "ADELE.VANCE@contoso.com"', False),
        ('userName co "vance@"', True),
        ('userName co "nobody"', False),
        ('userName sw "adele."', True),
        ('userName sw "vance"', False),
        ('userName ew "@CONTOSO.COM"', True),
        ('userName ew "@contoso"', False),
        ("title pr", True),
        ("nickName pr", False),
        ('userName gt "A"', True),
        ('userName gt "b"', False),
        ('userName ge "adele.vance@contoso.com"', True),
        ('userName lt "b"', True),
        ('userName le "Adele"', False),
        ("active eq true", True),
        ("active eq false", False),
        ("active ne false", True),
        # operators and attribute names in any case
        ('USERNAME EQ "adele.vance@contoso.com"', True),
        ('DisplayName Eq "adele vance"', True),
        ("TITLE PR", True),
        ("active EQ TRUE", True),
        # absent attributes
        ('nickName eq "x"', False),
        ('nickName ne "x"', True),
        ("nickName eq null", True),
        ("title eq null", False),
        ("title ne null", True),
    ],
)
def test_comparison_operators(text: str, expected: bool) -> None:
    assert _matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "x" or title pr', True),
        ('title pr and userName eq "x"', False),
        # and binds tighter than or: true or (false and false)
        ('title pr or userName eq "x" and nickName pr', True),
        # parentheses change it: (true or false) and false
        ('(title pr or userName eq "x") and nickName pr', False),
        ("not (nickName pr)", True),
        ("not (title pr)", False),
        ("not (title pr) or active eq true", True),
        ("not (title pr or nickName pr)", False),
        ('not(nickName pr) and not(userName eq "x")', True),
        ("((active eq true))", True),
        (
            'active eq true and (title sw "retail" and (nickName pr or title ew "r"))',
            True,
        ),
        ('userName eq "x" or userName eq "y" or displayName eq "Adele Vance"', True),
    ],
)
def test_logical_operators_and_precedence(text: str, expected: bool) -> None:
    assert _matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a multi-valued attribute matches when any value matches
        ('emails.value eq "adele@example.org"', True),
        ('emails.type eq "other"', False),
        ('emails co "example.org"', True),
        ('emails[type eq "work"]', True),
        ('emails[type eq "other"]', False),
        ('emails[type eq "work" and value co "@contoso"]', True),
        ('emails[type eq "home" and value co "@contoso"]', False),
        ('emails[type eq "work" or primary eq true]', True),
        ('emails[not (type eq "work")]', True),
        ('emails[type eq "work"].value eq "adelev@contoso.com"', True),
        ('emails[type eq "home"].value eq "adelev@contoso.com"', False),
        ('emails[type eq "work"].value sw "AdeleV"', True),
        ('emails[primary eq true].type eq "work"', True),
        ('emails[type eq "work"].primary eq true', True),
        ('phoneNumbers[type eq "mobile"].value pr', True),
        ('phoneNumbers[type eq "work"].value pr', False),
        ('EMAILS[TYPE EQ "WORK"].VALUE EQ "adelev@contoso.com"', True),
        # sub-attributes
        ('name.familyName eq "vance"', True),
        ('name.givenName sw "B"', False),
        ("name.middleName pr", False),
        ('NAME.FAMILYNAME co "an"', True),
    ],
)
def test_multi_valued_and_sub_attributes(text: str, expected: bool) -> None:
    assert _matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'{ENTERPRISE}:department eq "Retail"', True),
        (f'{ENTERPRISE}:department eq "retail"', True),
        (f'{ENTERPRISE}:employeeNumber eq "E-9"', False),
        (f'{ENTERPRISE}:manager.value eq "mgr-7"', True),
        (f'{ENTERPRISE}:manager.value eq "MGR-7"', False),
        (f'{ENTERPRISE.upper()}:DEPARTMENT eq "Retail"', True),
        (f'{PROMPT}:section eq "ward 3"', True),
        (f'{PROMPT}:department eq "Retail"', False),
        (f"{ENTERPRISE}:costCenter pr", False),
        (
            f'{CORE}:userName eq "adele.vance@contoso.com"',
            True,
        ),
        # legacy Entra reference check: id eq ... and manager eq ...
        ('id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "mgr-7"', True),
        ('manager eq "mgr-8"', False),
        # unqualified extension names resolve to the enterprise extension first
        ('employeeNumber eq "E-1042"', True),
        ('department eq "Retail"', True),
    ],
)
def test_urn_qualified_extension_attributes(text: str, expected: bool) -> None:
    assert _matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('meta.lastModified gt "2024-05-14T17:00:00Z"', True),
        ('meta.lastModified gt "2024-05-14T17:02:11Z"', False),
        ('meta.lastModified ge "2024-05-14T17:02:11Z"', True),
        ('meta.lastModified lt "2024-05-14T19:02:11+02:00"', False),
        ('meta.lastModified le "2024-05-14T19:02:11+02:00"', True),
        ('meta.created lt "2024-03-01T09:30:00.001Z"', True),
        ('meta.created eq "2024-03-01T09:30:00Z"', True),
        ('meta.resourceType eq "User"', True),
        ('meta.version eq "W/\\"4\\""', True),
    ],
)
def test_datetime_and_meta(text: str, expected: bool) -> None:
    assert _matches(text) is expected


@pytest.mark.parametrize(
    ("value", "filter_literal"),
    [
        ('He said "hi"', r'"He said \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("caf\u00e9", r'"caf\u00e9"'),
        ("tab\there", r'"tab\there"'),
        ("a/b", r'"a\/b"'),
        ("with ) and ] and and or", '"with ) and ] and and or"'),
    ],
)
def test_string_literals_use_json_escapes(value: str, filter_literal: str) -> None:
    body = {"userName": "u@x", "nickName": value}
    rep = rendered_user(body)

    assert _matches(f"nickName eq {filter_literal}", rep)
    assert not _matches(f'nickName eq {filter_literal[:-1]}x"', rep)


def test_group_filters_and_members() -> None:
    assert _matches('displayName eq "ward 3 nurses"', GROUP_REP, GROUP)
    assert _matches('members[value eq "u2"]', GROUP_REP, GROUP)
    assert _matches('members.value eq "u1"', GROUP_REP, GROUP)
    assert not _matches('members[value eq "U2"]', GROUP_REP, GROUP)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("", None),
        ("   ", None),
        ("userName eq", "position 12"),
        ('userName "x"', "position 10"),
        ('userName equals "x"', "position 10"),
        ("userName eq x", "position 13"),
        ("userName eq 'x'", "position 13"),
        ('userName eq "x', "position 13"),
        ('userName eq "x" and', "position 20"),
        ('userName eq "x" xor title pr', "position 17"),
        ('(userName eq "x"', "position 17"),
        ('userName eq "x")', "position 16"),
        ('emails[type eq "work"', "position 22"),
        ('emails[type eq "work"]].value eq "x"', "position 23"),
        ('emails[type eq "work"].value', "position 29"),
        ('emails[type eq "a"[value eq "b"]]', "position 19"),
        ("not userName pr", "position 5"),
        ("and title pr", "position 5"),
        ('userName eq "\\x"', "position 13"),
        ("title pr pr", "position 10"),
        ('emails[].value eq "x"', "position 8"),
        ('"userName" eq "x"', "position 1"),
        ("userName eq 01", "position 13"),
    ],
)
def test_malformed_filters_are_invalid_filter(text: str, position: str | None) -> None:
    with pytest.raises(ScimError) as caught:
        parse_filter(text)

    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidFilter"
    if position:
        assert position in caught.value.detail


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('foo eq "x"', "foo"),
        ('userName eq "x" or groups eq "g"', "groups"),
        ('name.nope eq "x"', "name.nope"),
        ('emails[kind eq "work"]', "kind"),
        ('emails[type eq "work"].nope eq "x"', "nope"),
        (f'{ENTERPRISE}:nope eq "x"', "nope"),
        ('urn:example:unknown:User:x eq "x"', "urn:example:unknown:User:x"),
        ("active gt true", "active"),
        ('active eq "yes"', "active"),
        ("userName eq 42", "userName"),
        ("userName eq true", "userName"),
        ('name eq "Adele"', "name"),
        ('meta.lastModified gt "yesterday"', "meta.lastModified"),
        ("userName gt null", "userName"),
        ('userName[value eq "x"]', "userName"),
        ('x509Certificates.value lt "a"', "x509Certificates.value"),
    ],
)
def test_unknown_or_mistyped_attributes_are_invalid_filter(
    text: str, named: str
) -> None:
    f = parse_filter(text)

    with pytest.raises(ScimError) as caught:
        validate_filter(f, USER)

    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidFilter"
    assert named in caught.value.detail


def test_group_attribute_is_unknown_on_users_and_vice_versa() -> None:
    with pytest.raises(ScimError):
        validate_filter(parse_filter('members.value eq "u1"'), USER)
    with pytest.raises(ScimError):
        validate_filter(parse_filter('userName eq "u1"'), GROUP)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ('userName eq "Adele@x"', {"userName": "Adele@x"}),
        ('USERNAME EQ "Adele@x"', {"userName": "Adele@x"}),
        ('externalId eq "abc"', {"externalId": "abc"}),
        ('id eq "i" and manager eq "m"', {"id": "i"}),
        (
            'externalId eq "e" and (userName eq "u" and active eq true)',
            {"externalId": "e", "userName": "u"},
        ),
        ('displayName eq "Adele"', {"displayName": "Adele"}),
        ('userName eq "a" or userName eq "b"', None),
        ('userName eq "a" and (title pr or nickName pr)', {"userName": "a"}),
        ('(userName eq "a" or title pr) and externalId eq "e"', {"externalId": "e"}),
        ('not (userName eq "a")', None),
        ('userName ne "a"', None),
        ('userName co "a"', None),
        ('emails[type eq "work"].value eq "a@x"', None),
        ('title eq "t"', None),
        (f'{ENTERPRISE}:employeeNumber eq "1"', None),
        ("userName pr", None),
    ],
)
def test_index_terms_only_from_eq_and_chains(
    text: str, terms: dict[str, str] | None
) -> None:
    assert index_terms(parse_filter(text), USER) == terms


def test_index_terms_for_group_display_name() -> None:
    f = parse_filter('displayName eq "Ward 3 Nurses"')

    assert index_terms(f, GROUP) == {"displayName": "Ward 3 Nurses"}


def test_index_terms_are_consistent_with_matching() -> None:
    # A record found through the case-insensitive userName index must also match.
    f = parse_filter('userName eq "ADELE.VANCE@CONTOSO.COM" and active eq true')

    assert index_terms(f, USER) == {"userName": "ADELE.VANCE@CONTOSO.COM"}
    assert f.matches(USER_REP, USER)


def test_or_chains_up_to_the_comparison_cap_evaluate() -> None:
    text = " or ".join(f'userName eq "user{i}@x"' for i in range(49))

    assert not _matches(text)
    assert _matches(text + " or title pr")


@pytest.mark.parametrize(
    "text",
    [
        " or ".join(f'title eq "t{i}"' for i in range(51)),
        " and ".join(["title pr"] * 51),
        "emails[" + " or ".join(f'value eq "{i}"' for i in range(50)) + "]",
        "not ("
        + " or ".join(["title pr"] * 30)
        + ") and "
        + " or ".join(["nickName pr"] * 21),
    ],
    ids=["or-chain", "and-chain", "inside-value-path", "mixed"],
)
def test_more_than_50_comparisons_are_refused(text: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_filter(text)

    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidFilter"
    assert "more than 50 comparisons" in caught.value.detail


def test_filters_longer_than_4096_characters_are_refused() -> None:
    at_cap = 'userName eq "' + "a" * (4096 - 14) + '"'
    over = 'userName eq "' + "a" * (4097 - 14) + '"'

    parse_filter(at_cap)
    with pytest.raises(ScimError) as caught:
        parse_filter(over)

    assert len(at_cap) == 4096
    assert caught.value.scim_type == "invalidFilter"
    assert "at most 4096" in caught.value.detail


def test_integer_literals_python_cannot_convert_are_invalid_filter() -> None:
    # Python converts at most 4,300 digits by default, fewer where an operator
    # set PYTHONINTMAXSTRDIGITS; either way the client gets invalidFilter.
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(1000)
    try:
        with pytest.raises(ScimError) as caught:
            parse_filter("userName eq 1" + "0" * 2000)
    finally:
        sys.set_int_max_str_digits(previous)

    assert caught.value.scim_type == "invalidFilter"
    assert "2001 characters" in caught.value.detail


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (r'userName eq "\ud800"', "surrogate"),
        (r'title eq "a\udfffb"', "surrogate"),
        (r'userName eq "a\u0000"', "NUL"),
        (r'emails[value eq "\u0000"]', "NUL"),
    ],
)
def test_literals_with_nul_or_lone_surrogates_are_invalid_filter(
    text: str, named: str
) -> None:
    with pytest.raises(ScimError) as caught:
        parse_filter(text)

    assert caught.value.scim_type == "invalidFilter"
    assert named in caught.value.detail


def test_deeply_nested_parentheses_are_refused() -> None:
    text = "(" * 40 + "title pr" + ")" * 40

    with pytest.raises(ScimError) as caught:
        parse_filter(text)

    assert caught.value.scim_type == "invalidFilter"
    assert "nested" in caught.value.detail


def test_case_insensitive_comparison_is_lower_case_folding() -> None:
    # Same rule as the store's case-insensitive userName index and uniqueness.
    rep = rendered_user({"userName": "Stra\u00dfe@x"})

    assert _matches('userName eq "STRA\u00dfE@X"', rep)
    assert not _matches('userName eq "STRASSE@X"', rep)
