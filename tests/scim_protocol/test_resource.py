from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from scim_service.errors import ScimError
from scim_service.protocol.resource import (
    display_name,
    external_id,
    parse_resource,
    project,
    render,
    user_name,
)
from scim_service.protocol.schema import GROUP, USER

from ._data import ENTERPRISE, PROMPT, USER_BODY, rendered_group, rendered_user

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"

# Entra's create-user request (MS-DEV "Create User" plus the legacy nulls).
ENTRA_POST: dict[str, Any] = {
    "schemas": [CORE, ENTERPRISE],
    "externalId": "9a1b5f3e-43c0-4d5e-9d6a-0c2f5b1e7a11",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
    "active": True,
    "emails": [
        {"primary": True, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}
    ],
    "meta": {"resourceType": "User"},
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName",
    },
    "roles": [],
    "addresses": None,
    "title": None,
    "manager": None,
}


def test_entra_post_body_is_stored_without_nulls_meta_or_schemas() -> None:
    doc = parse_resource(ENTRA_POST, USER)

    assert doc == {
        "externalId": "9a1b5f3e-43c0-4d5e-9d6a-0c2f5b1e7a11",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
        "active": True,
        "emails": [
            {
                "primary": True,
                "type": "work",
                "value": "Test_User_fd0ea19b@testuser.com",
            }
        ],
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
    }


def test_parse_never_mutates_the_body() -> None:
    body = copy.deepcopy(ENTRA_POST)

    parse_resource(body, USER)

    assert body == ENTRA_POST


def test_capitalised_names_are_stored_under_canonical_names() -> None:
    doc = parse_resource(
        {
            "UserName": "A@x",
            "Active": "True",
            "DisplayName": "A",
            "Name": {"GivenName": "Ann", "FAMILYNAME": "Lee"},
            "Emails": [{"Primary": "true", "Type": "work", "Value": "A@X.org"}],
            ENTERPRISE.upper(): {"Department": "Retail", "Manager": {"Value": "m-1"}},
            "urn:prompt:params:scim:schemas:extension:PROMPT:2.0:User": {
                "Section": "S"
            },
        },
        USER,
    )

    assert doc == {
        "userName": "A@x",
        "active": True,
        "displayName": "A",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"primary": True, "type": "work", "value": "A@X.org"}],
        ENTERPRISE: {"department": "Retail", "manager": {"value": "m-1"}},
        PROMPT: {"section": "S"},
    }


def test_values_are_stored_exactly_as_sent() -> None:
    body = {
        "userName": "  Mixed.Case@Contoso.COM ",
        "name": {"givenName": "\u00c9lodie"},
        "phoneNumbers": [{"type": "work", "value": "+1 (425) 555-0100"}],
        "timezone": "Europe/London",
    }

    assert parse_resource(body, USER) == body


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("True", True),
        ("False", False),
        ("true", True),
        ("false", False),
        (True, True),
        (False, False),
    ],
)
def test_active_accepts_booleans_and_entra_strings(sent: Any, stored: bool) -> None:
    assert parse_resource({"userName": "u", "active": sent}, USER)["active"] is stored


@pytest.mark.parametrize(
    "manager",
    [
        "m-42",
        {"value": "m-42"},
        {"value": "m-42", "$ref": "../Users/m-42", "displayName": "Boss"},
        [{"value": "m-42"}],
        [{"$ref": "https://h/scim/v2/Users/m-42", "value": "m-42"}],
        ["m-42"],
    ],
)
@pytest.mark.parametrize("where", ["extension", "top level"])
def test_manager_in_every_entra_shape(manager: Any, where: str) -> None:
    body: dict[str, Any] = {"userName": "u"}
    if where == "extension":
        body[ENTERPRISE] = {"manager": manager}
    else:
        body["manager"] = manager

    doc = parse_resource(body, USER)

    assert doc[ENTERPRISE] == {"manager": {"value": "m-42"}}


@pytest.mark.parametrize("manager", [None, "", [], {}, {"value": ""}])
def test_empty_manager_is_no_manager(manager: Any) -> None:
    doc = parse_resource({"userName": "u", ENTERPRISE: {"manager": manager}}, USER)

    assert doc == {"userName": "u"}


def test_read_only_and_write_only_attributes_are_dropped() -> None:
    doc = parse_resource(
        {
            "id": "client-chosen",
            "meta": {"created": "2020-01-01T00:00:00Z"},
            "schemas": [CORE],
            "userName": "u",
            "password": "s3cret!",
            ENTERPRISE: {"manager": {"value": "m", "displayName": "Boss"}},
        },
        USER,
    )

    assert doc == {"userName": "u", ENTERPRISE: {"manager": {"value": "m"}}}


def test_single_object_for_a_multi_valued_attribute_becomes_a_list() -> None:
    doc = parse_resource({"userName": "u", "emails": {"value": "a@b.org"}}, USER)

    assert doc["emails"] == [{"value": "a@b.org"}]


def test_entra_group_post() -> None:
    doc = parse_resource(
        {
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
            ],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "meta": {"resourceType": "Group"},
            "members": [{"$ref": None, "value": "u1"}],
        },
        GROUP,
    )

    assert doc == {
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Group1DisplayName",
        "members": [{"value": "u1"}],
    }


@pytest.mark.parametrize(
    ("body", "scim_type", "named"),
    [
        ("userName", "invalidSyntax", "JSON object"),
        ([{"userName": "u"}], "invalidSyntax", "JSON object"),
        ({}, "invalidValue", "userName"),
        ({"userName": None}, "invalidValue", "userName"),
        ({"userName": ""}, "invalidValue", "userName"),
        ({"displayName": "no user name"}, "invalidValue", "userName"),
        ({"userName": "u", "active": "yes"}, "invalidValue", "active"),
        ({"userName": "u", "active": 1}, "invalidValue", "active"),
        ({"userName": 42}, "invalidValue", "userName"),
        ({"userName": "u", "title": ["x"]}, "invalidValue", "title"),
        ({"userName": "u", "name": "Ann Lee"}, "invalidValue", "name"),
        ({"userName": "u", "name": {"nickname": "x"}}, "invalidValue", "nickname"),
        ({"userName": "u", "emails": ["a@b.org"]}, "invalidValue", "emails[0]"),
        (
            {"userName": "u", "emails": [{"value": 7}]},
            "invalidValue",
            "emails[0].value",
        ),
        (
            {"userName": "u", "emails": [{"primary": "maybe"}]},
            "invalidValue",
            "primary",
        ),
        ({"userName": "u", "groups": [{"value": "g"}]}, "invalidValue", "groups"),
        (
            {"userName": "u", "favouriteColour": "blue"},
            "invalidValue",
            "favouriteColour",
        ),
        ({"userName": "u", ENTERPRISE: "Retail"}, "invalidValue", ENTERPRISE),
        ({"userName": "u", ENTERPRISE: {"badge": "7"}}, "invalidValue", "badge"),
        (
            {"userName": "u", "urn:example:ext:User": {"x": 1}},
            "invalidValue",
            "urn:example:ext:User",
        ),
        (
            {"userName": "u", "manager": [{"value": "a"}, {"value": "b"}]},
            "invalidValue",
            "manager",
        ),
        ({"userName": "u", "manager": 7}, "invalidValue", "manager"),
        (
            {
                "userName": "u",
                "emails": [
                    {"value": "a", "primary": True},
                    {"value": "b", "primary": True},
                ],
            },
            "invalidValue",
            "primary",
        ),
    ],
)
def test_refused_bodies(body: object, scim_type: str, named: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_resource(body, USER)

    assert caught.value.status == 400
    assert caught.value.scim_type == scim_type
    assert named in caught.value.detail


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"userName": "   "}, "userName"),
        ({"userName": "\t\n"}, "userName"),
        ({"userName": "\u3000"}, "userName"),
        ({"userName": "u" * 1025}, "userName"),
        ({"userName": "u", "externalId": "x" * 1025}, "externalId"),
        ({"userName": "u", "displayName": "d" * 1025}, "displayName"),
        ({"userName": "a\x00b"}, "userName"),
        ({"userName": "u", "externalId": "\x00"}, "externalId"),
    ],
    ids=[
        "spaces",
        "tab-newline",
        "ideographic-space",
        "long-userName",
        "long-externalId",
        "long-displayName",
        "nul-userName",
        "nul-externalId",
    ],
)
def test_blank_long_or_nul_identifiers_are_refused(
    body: dict[str, Any], named: str
) -> None:
    with pytest.raises(ScimError) as caught:
        parse_resource(body, USER)

    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidValue"
    assert f"'{named}'" in caught.value.detail


def test_identifiers_at_the_length_cap_are_stored() -> None:
    body = {"userName": "u" * 1024, "externalId": "x" * 1024, "displayName": "d"}

    doc = parse_resource(body, USER)

    assert doc["userName"] == body["userName"]
    assert doc["externalId"] == body["externalId"]


@pytest.mark.parametrize("display", ["  ", "\n"])
def test_group_display_name_must_not_be_blank(display: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_resource({"displayName": display}, GROUP)

    assert caught.value.scim_type == "invalidValue"
    assert "displayName" in caught.value.detail


def test_group_requires_display_name() -> None:
    with pytest.raises(ScimError) as caught:
        parse_resource({"members": []}, GROUP)

    assert caught.value.scim_type == "invalidValue"
    assert "displayName" in caught.value.detail


# ---------------------------------------------------------------- render


def test_render_lists_schemas_id_and_meta() -> None:
    rep = rendered_user()

    assert rep["schemas"] == [CORE, ENTERPRISE, PROMPT]
    assert rep["id"] == "2819c223-7f76-453a-919d-413861904646"
    assert rep["meta"] == {
        "resourceType": "User",
        "created": "2024-03-01T09:30:00Z",
        "lastModified": "2024-05-14T17:02:11Z",
        "location": "https://prompt.example/scim/v2/Users/2819c223",
        "version": 'W/"4"',
    }
    assert rep[ENTERPRISE]["manager"] == {"value": "mgr-7"}
    assert rep["userName"] == USER_BODY["userName"]


def test_render_lists_only_extensions_present() -> None:
    rep = render(
        {"userName": "u"},
        USER,
        id="1",
        created=datetime(2024, 1, 1, tzinfo=UTC),
        last_modified=datetime(2024, 1, 1, tzinfo=UTC),
        version=1,
        location="l",
    )

    assert rep["schemas"] == [CORE]
    assert ENTERPRISE not in rep


def test_render_times_are_utc_rfc3339() -> None:
    rep = render(
        {"userName": "u"},
        USER,
        id="1",
        created=datetime(
            2024, 1, 1, 12, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2))
        ),
        last_modified=datetime(2024, 1, 1, 12, 0),
        version=12,
        location="l",
    )

    assert rep["meta"]["created"] == "2024-01-01T10:00:00.250000Z"
    assert rep["meta"]["lastModified"] == "2024-01-01T12:00:00Z"
    assert rep["meta"]["version"] == 'W/"12"'


def test_render_never_returns_password_and_copies_the_document() -> None:
    doc: dict[str, Any] = {"userName": "u", "password": "x", "emails": [{"value": "a"}]}

    rep = render(
        doc,
        USER,
        id="1",
        created=datetime.now(UTC),
        last_modified=datetime.now(UTC),
        version=1,
        location="l",
    )
    rep["emails"][0]["value"] = "changed"

    assert "password" not in rep
    assert doc["emails"] == [{"value": "a"}]


# ---------------------------------------------------------------- project


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (["userName"], {"userName": USER_BODY["userName"]}),
        (["USERNAME", "Active"], {"userName": USER_BODY["userName"], "active": True}),
        (["name.givenName"], {"name": {"givenName": "Adele"}}),
        (
            ["emails.value"],
            {
                "emails": [
                    {"value": "AdeleV@contoso.com"},
                    {"value": "adele@example.org"},
                ]
            },
        ),
        (
            ["emails.value", "emails.type"],
            {
                "emails": [
                    {"type": "work", "value": "AdeleV@contoso.com"},
                    {"type": "home", "value": "adele@example.org"},
                ]
            },
        ),
        ([f"{ENTERPRISE}:department"], {ENTERPRISE: {"department": "Retail"}}),
        (
            [f"{ENTERPRISE}:manager.value"],
            {ENTERPRISE: {"manager": {"value": "mgr-7"}}},
        ),
        ([ENTERPRISE], {ENTERPRISE: USER_BODY[ENTERPRISE]}),
        ([f"{CORE}:displayName"], {"displayName": "Adele Vance"}),
        (["meta.version"], {"meta": {"version": 'W/"4"'}}),
        (["id"], {}),
        (["nickName"], {}),
        (["noSuchAttribute"], {}),
        (["password"], {}),
    ],
)
def test_attributes_returns_only_those_plus_id_and_schemas(
    attributes: list[str], expected: dict[str, Any]
) -> None:
    out = project(rendered_user(), USER, attributes=attributes, excluded=None)

    schemas = [CORE] + [urn for urn in (ENTERPRISE, PROMPT) if urn in expected]
    assert out == {
        "schemas": schemas,
        "id": "2819c223-7f76-453a-919d-413861904646",
        **expected,
    }


@pytest.mark.parametrize(
    ("excluded", "gone", "kept"),
    [
        (["emails"], ["emails"], ["userName", "meta"]),
        (["EMAILS", "meta"], ["emails", "meta"], ["userName"]),
        (["id", "schemas"], [], ["id", "schemas"]),
        ([ENTERPRISE], [ENTERPRISE], [PROMPT]),
        (["name.givenName"], [], ["name"]),
    ],
)
def test_excluded_attributes(
    excluded: list[str], gone: list[str], kept: list[str]
) -> None:
    out = project(rendered_user(), USER, attributes=None, excluded=excluded)

    for key in gone:
        assert key not in out
    for key in kept:
        assert key in out


def test_excluded_sub_attributes_and_schemas_follow() -> None:
    out = project(
        rendered_user(),
        USER,
        attributes=None,
        excluded=[
            "name.givenName",
            "emails.primary",
            f"{ENTERPRISE}:department",
            f"{ENTERPRISE}:employeeNumber",
            f"{ENTERPRISE}:manager",
        ],
    )

    assert out["name"] == {"formatted": "Adele Vance", "familyName": "Vance"}
    assert all("primary" not in e for e in out["emails"])
    assert ENTERPRISE not in out
    assert out["schemas"] == [CORE, PROMPT]


def test_group_excluded_members() -> None:
    # Entra: GET /Groups?excludedAttributes=members must not return members.
    out = project(rendered_group(), GROUP, attributes=None, excluded=["members"])

    assert "members" not in out
    assert out["displayName"] == "Ward 3 Nurses"


def test_project_without_lists_returns_everything_but_password() -> None:
    rep = rendered_user()
    rep["password"] = "leak"

    out = project(rep, USER, attributes=None, excluded=None)

    assert "password" not in out
    assert out == rendered_user()


def test_accessors_read_indexed_values() -> None:
    doc = parse_resource(USER_BODY, USER)

    assert user_name(doc) == "Adele.Vance@Contoso.com"
    assert external_id(doc) == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    assert display_name(doc) == "Adele Vance"
    assert user_name({}) is None
    assert external_id({"externalId": 5}) is None


def test_core_attributes_nested_under_the_core_urn() -> None:
    doc = parse_resource({CORE: {"userName": "u", "title": "T"}}, USER)

    assert doc == {"userName": "u", "title": "T"}


def test_dotted_keys_in_a_body() -> None:
    doc = parse_resource({"userName": "u", "name.givenName": "Ann"}, USER)

    assert doc == {"userName": "u", "name": {"givenName": "Ann"}}
    with pytest.raises(ScimError) as caught:
        parse_resource({"userName": "u", "emails.value": "a@b"}, USER)
    assert caught.value.scim_type == "invalidValue"


def test_extension_object_with_schemas_member() -> None:
    doc = parse_resource(
        {"userName": "u", ENTERPRISE: {"schemas": [ENTERPRISE], "division": "D"}}, USER
    )

    assert doc == {"userName": "u", ENTERPRISE: {"division": "D"}}


@pytest.mark.parametrize(
    ("value", "expected"), [("m-1", {"manager": {"value": "m-1"}}), ("", None)]
)
def test_dotted_manager_value_key(value: str, expected: dict[str, Any] | None) -> None:
    doc = parse_resource({"userName": "u", f"{ENTERPRISE}:manager.value": value}, USER)

    assert doc.get(ENTERPRISE) == expected


def test_entra_app_role_shape_is_stored_as_sent() -> None:
    roles = [
        {
            "primary": False,
            "type": "WindowsAzureActiveDirectoryRole",
            "display": "Ward Admin",
            "value": "WardAdmin",
        }
    ]

    assert parse_resource({"userName": "u", "roles": roles}, USER)["roles"] == roles


def test_a_returned_resource_put_back_is_the_same_document() -> None:
    # Entra compares what we return with what it sent: nothing may drift.
    doc = parse_resource(USER_BODY, USER)

    assert parse_resource(rendered_user(), USER) == doc
    assert parse_resource(rendered_group(), GROUP) == {
        "displayName": "Ward 3 Nurses",
        "members": [{"value": "u1"}, {"value": "u2"}],
    }


def test_attributes_naming_the_core_schema_returns_core_attributes() -> None:
    out = project(rendered_user(), USER, attributes=[CORE], excluded=None)

    assert out["userName"] == USER_BODY["userName"]
    assert out["emails"] == USER_BODY["emails"]
    assert ENTERPRISE not in out
    assert "meta" in out
