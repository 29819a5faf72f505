from __future__ import annotations

import copy
from typing import Any

import pytest

from scim_service.errors import ScimError
from scim_service.protocol.patch import apply_patch
from scim_service.protocol.resource import parse_resource
from scim_service.protocol.schema import GROUP, USER

from ._data import ENTERPRISE, PATCH_OP, PROMPT, USER_BODY


def _body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _user(**changes: Any) -> dict[str, Any]:
    doc = parse_resource(USER_BODY, USER)
    doc.update(changes)
    return doc


def _bare_user() -> dict[str, Any]:
    return {"userName": "new.hire@contoso.com", "active": True}


def _patch(doc: dict[str, Any], *operations: dict[str, Any]) -> dict[str, Any]:
    return apply_patch(doc, _body(*operations), USER)


def _refused(doc: dict[str, Any], body: object, rt: Any = USER) -> ScimError:
    before = copy.deepcopy(doc)
    with pytest.raises(ScimError) as caught:
        apply_patch(doc, body, rt)
    assert caught.value.status == 400
    assert doc == before
    return caught.value


# ---------------------------------------------------------------- Entra 1.3


def test_entra_incremental_payload_from_the_field() -> None:
    new = _patch(
        _user(),
        {
            "op": "Replace",
            "path": 'emails[type eq "work"].value',
            "value": "AdeleV2@contoso.onmicrosoft.com",
        },
        {
            "op": "Replace",
            "path": 'addresses[type eq "work"].formatted',
            "value": "18/2111",
        },
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Retail"},
    )

    assert new["emails"][0] == {
        "type": "work",
        "value": "AdeleV2@contoso.onmicrosoft.com",
        "primary": True,
    }
    assert new["emails"][1] == {"type": "home", "value": "adele@example.org"}
    assert new["addresses"] == [{"type": "work", "formatted": "18/2111"}]
    assert new[ENTERPRISE]["department"] == "Retail"


@pytest.mark.parametrize("op", ["Add", "Replace", "add", "replace", "REPLACE"])
def test_value_path_creates_the_missing_work_email(op: str) -> None:
    new = _patch(
        _bare_user(),
        {"op": op, "path": 'emails[type eq "work"].value', "value": "nh@contoso.com"},
    )

    assert new["emails"] == [{"type": "work", "value": "nh@contoso.com"}]


def test_value_path_creates_from_an_and_chain_of_eq() -> None:
    new = _patch(
        _bare_user(),
        {
            "op": "Add",
            "path": 'phoneNumbers[type eq "mobile" and primary eq true].value',
            "value": "+44 20 7946 0000",
        },
    )

    assert new["phoneNumbers"] == [
        {"type": "mobile", "primary": True, "value": "+44 20 7946 0000"}
    ]


@pytest.mark.parametrize(
    "path",
    ['emails[type co "work"].value', 'emails[type eq "work" or type eq "x"].value'],
)
def test_value_path_with_other_filters_does_not_create(path: str) -> None:
    error = _refused(_bare_user(), _body({"op": "Replace", "path": path, "value": "a"}))

    assert error.scim_type == "noTarget"
    assert "emails" in error.detail


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("userName", "adele.v@contoso.com", {"userName": "adele.v@contoso.com"}),
        ("displayName", "Adele V.", {"displayName": "Adele V."}),
        (
            "name.givenName",
            "Ad\u00e8le",
            {"name": {**USER_BODY["name"], "givenName": "Ad\u00e8le"}},
        ),
        (
            "name.familyName",
            "VANCE",
            {"name": {**USER_BODY["name"], "familyName": "VANCE"}},
        ),
        ("externalId", "f00d", {"externalId": "f00d"}),
        ("title", "Buyer", {"title": "Buyer"}),
        ("nickName", "Babs", {"nickName": "Babs"}),
        ("Title", "Buyer", {"title": "Buyer"}),
        ("NAME.GIVENNAME", "Ada", {"name": {**USER_BODY["name"], "givenName": "Ada"}}),
    ],
)
def test_entra_single_attribute_paths(
    path: str, value: str, expected: dict[str, Any]
) -> None:
    for op in ("Add", "Replace"):
        new = _patch(_user(), {"op": op, "path": path, "value": value})

        for key, want in expected.items():
            assert new[key] == want


def test_phone_number_value_path_replaces_existing_value() -> None:
    new = _patch(
        _user(),
        {
            "op": "Replace",
            "path": 'phoneNumbers[type eq "mobile"].value',
            "value": "+1 1",
        },
    )

    assert new["phoneNumbers"] == [{"type": "mobile", "value": "+1 1"}]


@pytest.mark.parametrize(
    "attribute",
    ["department", "employeeNumber", "costCenter", "organization", "division"],
)
def test_enterprise_urn_paths(attribute: str) -> None:
    new = _patch(
        _bare_user(), {"op": "Add", "path": f"{ENTERPRISE}:{attribute}", "value": "V"}
    )

    assert new[ENTERPRISE] == {attribute: "V"}


def test_prompt_extension_paths() -> None:
    new = _patch(
        _user(),
        {"op": "Replace", "path": f"{PROMPT}:section", "value": "Ward 4"},
        {"op": "Remove", "path": f"{PROMPT}:department"},
    )

    assert new[PROMPT] == {"section": "Ward 4"}


def test_extension_urn_path_is_case_insensitive() -> None:
    new = _patch(
        _bare_user(),
        {"op": "Add", "path": f"{ENTERPRISE.upper()}:Department", "value": "Retail"},
    )

    assert new == {**_bare_user(), ENTERPRISE: {"department": "Retail"}}


# ---------------------------------------------------------------- path-less values


def test_pathless_replace_with_dotted_and_urn_keys() -> None:
    # aadOptscim062020: several single-valued replaces merged into one op.
    new = _patch(
        _user(),
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE}:employeeNumber": "Aklq",
            },
        },
    )

    assert new["displayName"] == "Bjfe"
    assert new["name"] == {
        "formatted": "Adele Vance",
        "givenName": "Kkom",
        "familyName": "Unua",
    }
    assert new[ENTERPRISE]["employeeNumber"] == "Aklq"
    assert new[ENTERPRISE]["department"] == "Retail"
    assert "name.givenName" not in new


def test_pathless_value_with_nested_extension_object() -> None:
    new = _patch(
        _bare_user(),
        {
            "op": "add",
            "value": {
                ENTERPRISE: {"employeeNumber": "7", "manager": "mgr-1"},
                "active": "False",
                "schemas": ["ignored"],
            },
        },
    )

    assert new == {
        "userName": "new.hire@contoso.com",
        "active": False,
        ENTERPRISE: {"employeeNumber": "7", "manager": {"value": "mgr-1"}},
    }


def test_pathless_complex_value_merges_sub_attributes() -> None:
    new = _patch(_user(), {"op": "replace", "value": {"name": {"givenName": "Ada"}}})

    assert new["name"] == {
        "formatted": "Adele Vance",
        "familyName": "Vance",
        "givenName": "Ada",
    }


def test_path_naming_an_extension_takes_an_object() -> None:
    new = _patch(
        _bare_user(),
        {"op": "replace", "path": ENTERPRISE, "value": {"department": "Retail"}},
    )

    assert new[ENTERPRISE] == {"department": "Retail"}


# ---------------------------------------------------------------- manager (1.4)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (f"{ENTERPRISE}:manager", "2c2f6fb8-7d6c"),
        (f"{ENTERPRISE}:manager", {"value": "2c2f6fb8-7d6c"}),
        (f"{ENTERPRISE}:manager", {"Value": "2c2f6fb8-7d6c", "displayName": "Boss"}),
        (f"{ENTERPRISE}:manager", [{"value": "2c2f6fb8-7d6c"}]),
        ("manager", [{"$ref": "../Users/2c2f6fb8-7d6c", "value": "2c2f6fb8-7d6c"}]),
        ("Manager", "2c2f6fb8-7d6c"),
        (f"{ENTERPRISE}:manager.value", "2c2f6fb8-7d6c"),
    ],
)
@pytest.mark.parametrize("op", ["Add", "Replace"])
def test_manager_in_every_entra_shape(op: str, path: str, value: Any) -> None:
    new = _patch(_bare_user(), {"op": op, "path": path, "value": value})

    assert new[ENTERPRISE] == {"manager": {"value": "2c2f6fb8-7d6c"}}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""},
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": None},
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": []},
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": {"value": ""}},
        {"op": "Remove", "path": f"{ENTERPRISE}:manager"},
        {"op": "Remove", "path": "manager"},
        {"op": "Remove", "path": f"{ENTERPRISE}:manager.value"},
        {"op": "replace", "value": {f"{ENTERPRISE}:manager": ""}},
    ],
)
def test_manager_is_cleared(operation: dict[str, Any]) -> None:
    new = _patch(_user(), operation)

    assert "manager" not in new[ENTERPRISE]
    assert new[ENTERPRISE]["department"] == "Retail"


def test_clearing_the_only_extension_attribute_drops_the_extension() -> None:
    doc = {**_bare_user(), ENTERPRISE: {"manager": {"value": "m"}}}

    new = _patch(doc, {"op": "Remove", "path": f"{ENTERPRISE}:manager"})

    assert new == _bare_user()


def test_manager_with_two_values_is_refused() -> None:
    error = _refused(
        _bare_user(),
        _body(
            {"op": "Add", "path": "manager", "value": [{"value": "a"}, {"value": "b"}]}
        ),
    )

    assert error.scim_type == "invalidValue"
    assert "manager" in error.detail


# ---------------------------------------------------------------- active (1.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("False", False),
        ("True", True),
        ("false", False),
        ("true", True),
        ("FALSE", False),
        (False, False),
        (True, True),
    ],
)
def test_active_accepts_booleans_and_entra_strings(value: Any, expected: bool) -> None:
    for op in ("Replace", "replace", "Add"):
        new = _patch(
            _user(active=not expected), {"op": op, "path": "active", "value": value}
        )

        assert new["active"] is expected


@pytest.mark.parametrize("value", ["maybe", "0", 1, "", ["False"], {"value": False}])
def test_active_refuses_other_values(value: Any) -> None:
    error = _refused(
        _user(), _body({"op": "Replace", "path": "active", "value": value})
    )

    assert error.scim_type == "invalidValue"
    assert "active" in error.detail


# ---------------------------------------------------------------- groups (1.7)


def _group(*members: str) -> dict[str, Any]:
    return {"displayName": "Ward 3", "members": [{"value": m} for m in members]}


def test_legacy_member_removal_removes_only_listed_members() -> None:
    new = apply_patch(
        _group("u1", "u2", "u1091"),
        _body({"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}),
        GROUP,
    )

    assert new["members"] == [{"value": "u1"}, {"value": "u2"}]


def test_flagged_member_removal_by_value_path() -> None:
    new = apply_patch(
        _group("u1", "7f4b"),
        _body({"op": "remove", "path": 'members[value eq "7f4b"]'}),
        GROUP,
    )

    assert new["members"] == [{"value": "u1"}]


def test_removing_the_last_member_leaves_no_members() -> None:
    new = apply_patch(
        _group("u1"), _body({"op": "remove", "path": 'members[value eq "u1"]'}), GROUP
    )

    assert new == {"displayName": "Ward 3"}


def test_member_add_with_null_ref_and_no_duplicates() -> None:
    new = apply_patch(
        _group("u1"),
        _body(
            {
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": "u1"}, {"$ref": None, "value": "u2"}],
            }
        ),
        GROUP,
    )

    assert new["members"] == [{"value": "u1"}, {"value": "u2"}]


def test_remove_all_members_without_value() -> None:
    new = apply_patch(
        _group("u1", "u2"), _body({"op": "Remove", "path": "members"}), GROUP
    )

    assert "members" not in new


def test_group_display_name_replace() -> None:
    new = apply_patch(
        _group("u1"),
        _body({"op": "Replace", "path": "displayName", "value": "W4"}),
        GROUP,
    )

    assert new == {"displayName": "W4", "members": [{"value": "u1"}]}


def test_changing_a_member_id_in_place_is_immutable() -> None:
    error = _refused(
        _group("u1"),
        _body({"op": "replace", "path": 'members[value eq "u1"].value', "value": "u9"}),
        GROUP,
    )

    assert error.scim_type == "mutability"


# ---------------------------------------------------------------- RFC 7644 3.5.2


def test_replace_multi_valued_without_filter_replaces_the_list() -> None:
    new = _patch(
        _user(), {"op": "replace", "path": "emails", "value": [{"value": "only@x.org"}]}
    )

    assert new["emails"] == [{"value": "only@x.org"}]


def test_add_multi_valued_appends_without_duplicates() -> None:
    new = _patch(
        _user(),
        {
            "op": "add",
            "path": "emails",
            "value": [
                {"type": "home", "value": "adele@example.org"},
                {"type": "other", "value": "a@b.org"},
            ],
        },
    )

    assert [e["value"] for e in new["emails"]] == [
        "AdeleV@contoso.com",
        "adele@example.org",
        "a@b.org",
    ]


def test_add_single_object_to_multi_valued_attribute() -> None:
    new = _patch(
        _bare_user(), {"op": "add", "path": "emails", "value": {"value": "a@b.org"}}
    )

    assert new["emails"] == [{"value": "a@b.org"}]


def test_primary_true_on_one_value_clears_the_others() -> None:
    new = _patch(
        _user(),
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "n@x.org", "primary": True}],
        },
    )

    assert [e.get("primary") for e in new["emails"]] == [False, None, True]


def test_primary_via_value_path_clears_the_others() -> None:
    new = _patch(
        _user(),
        {"op": "replace", "path": 'emails[type eq "home"].primary', "value": "True"},
    )

    assert new["emails"][0]["primary"] is False
    assert new["emails"][1]["primary"] is True


def test_replace_matched_element_without_sub_attribute() -> None:
    new = _patch(
        _user(),
        {
            "op": "replace",
            "path": 'emails[type eq "home"]',
            "value": {"type": "home", "value": "new@example.org"},
        },
    )

    assert new["emails"][1] == {"type": "home", "value": "new@example.org"}


def test_remove_sub_attribute_of_matched_elements() -> None:
    new = _patch(_user(), {"op": "remove", "path": 'emails[type eq "work"].primary'})

    assert new["emails"][0] == {"type": "work", "value": "AdeleV@contoso.com"}


def test_remove_single_valued_and_sub_attributes() -> None:
    new = _patch(
        _user(),
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "name.formatted"},
        {"op": "Remove", "path": "nickName"},
    )

    assert "title" not in new
    assert new["name"] == {"familyName": "Vance", "givenName": "Adele"}


def test_replace_with_the_same_value_is_a_no_op() -> None:
    doc = _user()

    new = _patch(
        doc,
        {"op": "Replace", "path": "userName", "value": "Adele.Vance@Contoso.com"},
        {"op": "Replace", "path": "active", "value": "True"},
        {
            "op": "Add",
            "path": 'emails[type eq "work"].value',
            "value": "AdeleV@contoso.com",
        },
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": "mgr-7"},
    )

    assert new == doc


def test_patch_never_mutates_the_input_document() -> None:
    doc = _user()
    before = copy.deepcopy(doc)

    new = _patch(doc, {"op": "replace", "path": "name.givenName", "value": "X"})

    assert doc == before
    assert new["name"]["givenName"] == "X"


def test_all_or_nothing_when_a_later_operation_fails() -> None:
    doc = _user()

    error = _refused(
        doc,
        _body(
            {"op": "Replace", "path": "displayName", "value": "Changed"},
            {"op": "Remove", "path": 'emails[type eq "fax"]'},
        ),
    )

    assert error.scim_type == "noTarget"
    assert "operation 2" in error.detail


def test_password_is_accepted_and_not_stored() -> None:
    new = _patch(_user(), {"op": "replace", "path": "password", "value": "s3cret!"})

    assert new == _user()


def test_body_without_schemas_is_accepted() -> None:
    new = apply_patch(
        _user(),
        {"Operations": [{"op": "replace", "path": "title", "value": "T"}]},
        USER,
    )

    assert new["title"] == "T"


def test_operations_key_is_case_insensitive() -> None:
    new = apply_patch(
        _user(),
        {
            "schemas": [PATCH_OP],
            "operations": [{"OP": "Replace", "Path": "title", "Value": "T"}],
        },
        USER,
    )

    assert new["title"] == "T"


@pytest.mark.parametrize(
    ("body", "scim_type", "detail"),
    [
        ("not an object", "invalidSyntax", "JSON object"),
        ([], "invalidSyntax", "JSON object"),
        ({"schemas": [PATCH_OP]}, "invalidSyntax", "Operations"),
        ({"schemas": [PATCH_OP], "Operations": []}, "invalidSyntax", "Operations"),
        (
            {"schemas": [PATCH_OP], "Operations": {"op": "add"}},
            "invalidSyntax",
            "Operations",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "Operations": [],
            },
            "invalidSyntax",
            PATCH_OP,
        ),
        ({"schemas": PATCH_OP, "Operations": []}, "invalidSyntax", PATCH_OP),
        (_body("add"), "invalidSyntax", "operation 1"),
        (
            _body({"op": "merge", "path": "title", "value": "x"}),
            "invalidSyntax",
            "merge",
        ),
        (_body({"path": "title", "value": "x"}), "invalidSyntax", "op"),
        (_body({"op": "remove"}), "noTarget", "path"),
        (_body({"op": "remove", "value": {"title": "x"}}), "noTarget", "path"),
        (
            _body({"op": "remove", "path": 'emails[type eq "fax"]'}),
            "noTarget",
            "emails",
        ),
        (
            _body({"op": "remove", "path": 'emails[type eq "fax"].value'}),
            "noTarget",
            "emails",
        ),
        (_body({"op": "replace", "path": "id", "value": "x"}), "mutability", "id"),
        (
            _body({"op": "replace", "path": "meta.created", "value": "x"}),
            "mutability",
            "meta",
        ),
        (_body({"op": "remove", "path": "meta"}), "mutability", "meta"),
        (_body({"op": "replace", "value": {"id": "x"}}), "mutability", "id"),
        (
            _body(
                {"op": "add", "path": f"{ENTERPRISE}:manager.displayName", "value": "B"}
            ),
            "invalidPath",
            "displayName",
        ),
        (
            _body(
                {
                    "op": "add",
                    "path": f"{ENTERPRISE}:manager",
                    "value": {"$ref": "../Users/m"},
                }
            ),
            "invalidValue",
            "manager",
        ),
        (_body({"op": "add", "path": "groups", "value": "x"}), "invalidPath", "groups"),
        (
            _body({"op": "add", "path": "name.nope", "value": "x"}),
            "invalidPath",
            "name.nope",
        ),
        (
            _body({"op": "add", "path": f"{ENTERPRISE}:nope", "value": "x"}),
            "invalidPath",
            "nope",
        ),
        (
            _body({"op": "add", "path": 'emails[type eq "w"', "value": "x"}),
            "invalidPath",
            "position",
        ),
        (
            _body({"op": "add", "path": 'emails[kind eq "w"].value', "value": "x"}),
            "invalidPath",
            "kind",
        ),
        (
            _body({"op": "add", "path": 'emails[type eq "w"].nope', "value": "x"}),
            "invalidPath",
            "nope",
        ),
        (
            _body({"op": "add", "path": 'title[value eq "w"]', "value": "x"}),
            "invalidPath",
            "title",
        ),
        (_body({"op": "add", "path": "title", "value": 5}), "invalidValue", "title"),
        (
            _body({"op": "add", "path": "name", "value": "Adele"}),
            "invalidValue",
            "name",
        ),
        (
            _body({"op": "add", "path": "emails", "value": ["a@b"]}),
            "invalidValue",
            "emails",
        ),
        (_body({"op": "add", "value": {"nope": 1}}), "invalidPath", "nope"),
        (_body({"op": "add", "value": "title"}), "invalidValue", "object"),
        (_body({"op": "remove", "path": "userName"}), "invalidValue", "userName"),
        (
            _body({"op": "replace", "path": "userName", "value": None}),
            "invalidValue",
            "userName",
        ),
        (
            _body({"op": "replace", "path": "userName", "value": " \t\n"}),
            "invalidValue",
            "whitespace",
        ),
        (
            _body({"op": "replace", "value": {"userName": "   "}}),
            "invalidValue",
            "whitespace",
        ),
        (
            _body({"op": "replace", "path": "externalId", "value": "x" * 1025}),
            "invalidValue",
            "at most 1024",
        ),
        (
            _body({"op": "add", "path": "displayName", "value": "a\x00"}),
            "invalidValue",
            "NUL",
        ),
        (
            _body(
                {
                    "op": "replace",
                    "path": "emails",
                    "value": [
                        {"value": "a", "primary": True},
                        {"value": "b", "primary": True},
                    ],
                }
            ),
            "invalidValue",
            "primary",
        ),
    ],
)
def test_refused_patches(body: object, scim_type: str, detail: str) -> None:
    error = _refused(_user(), body)

    assert error.scim_type == scim_type
    assert detail in error.detail


def test_add_of_an_empty_list_changes_nothing() -> None:
    new = apply_patch(
        _group("u1"), _body({"op": "Add", "path": "members", "value": []}), GROUP
    )

    assert new == _group("u1")


def test_adding_an_existing_primary_value_keeps_it_primary() -> None:
    doc = _user()

    new = _patch(
        doc,
        {
            "op": "add",
            "path": "emails",
            "value": [{"type": "work", "value": "AdeleV@contoso.com", "primary": True}],
        },
    )

    assert new == doc


def test_replacing_an_extension_with_null_clears_it() -> None:
    new = _patch(_user(), {"op": "replace", "value": {ENTERPRISE: None}})

    assert ENTERPRISE not in new
    assert new[PROMPT] == USER_BODY[PROMPT]


def test_extension_object_with_schemas_member() -> None:
    # scim2-models serialises an extension object with its own `schemas` list.
    new = _patch(
        _bare_user(),
        {
            "op": "add",
            "path": ENTERPRISE,
            "value": {"schemas": [ENTERPRISE], "department": "Retail"},
        },
    )

    assert new[ENTERPRISE] == {"department": "Retail"}


def test_capitalised_paths_from_entra_postman_bodies() -> None:
    new = _patch(
        _bare_user(),
        {"op": "Add", "path": f"{ENTERPRISE}:Manager.Value", "value": "m-9"},
        {"op": "Add", "path": 'Emails[Type eq "work"].Value', "value": "w@x.org"},
        {"op": "Add", "path": 'emails[type eq "work"].Primary', "value": "True"},
    )

    assert new[ENTERPRISE] == {"manager": {"value": "m-9"}}
    assert new["emails"] == [{"type": "work", "value": "w@x.org", "primary": True}]


def test_entra_role_patch_with_json_in_the_value_string() -> None:
    # Without aadOptscim062020 Entra wraps the role's JSON in the value string.
    role = '{"id":"06b07648-ecfe-589f","value":"25","displayName":"Role1234"}'

    new = _patch(
        _bare_user(), {"op": "Add", "path": "roles", "value": [{"value": role}]}
    )

    assert new["roles"] == [{"value": role}]
