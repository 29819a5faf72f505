"""Tests of provisioning.mappings: Prompt's schema edits, drift and expressions."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from provisioning.errors import MappingInvalid, SchemaUnexpected
from provisioning.mappings import (
    desired_schema,
    expression_text,
    parse_expression,
    schema_drift,
)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ACTIVE = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'

PROMPT_ATTRIBUTES = {
    "userName": "userPrincipalName",
    "active": ACTIVE,
    "displayName": "displayName",
    "name.givenName": "givenName",
    "name.familyName": "surname",
    'emails[type eq "work"].value': "mail",
    "externalId": "objectId",
}


@dataclass(frozen=True)
class Settings:
    """Stand-in with the three fields of ProvisioningSettings that mappings reads."""

    groups: bool = False
    matching: str = "userName"
    user_attributes: Mapping[str, str] = field(
        default_factory=lambda: dict(PROMPT_ATTRIBUTES)
    )


def attribute(name: str) -> dict[str, Any]:
    return {
        "expression": f"[{name}]",
        "name": name,
        "parameters": [],
        "type": "Attribute",
    }


def mapping(target: str, source: dict[str, Any], priority: int = 0) -> dict[str, Any]:
    return {
        "defaultValue": None,
        "exportMissingReferences": False,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": priority,
        "source": source,
        "targetAttributeName": target,
    }


def template_schema() -> dict[str, Any]:
    """The default schema of a new 'scim' job, shaped like graph.md 7.3/7.4."""
    user_rows = [
        ("userName", "userPrincipalName"),
        ("displayName", "displayName"),
        ("title", "jobTitle"),
        ('emails[type eq "work"].value', "mail"),
        ("preferredLanguage", "preferredLanguage"),
        ("name.givenName", "givenName"),
        ("name.familyName", "surname"),
        ('addresses[type eq "work"].locality', "city"),
        ('phoneNumbers[type eq "work"].value', "telephoneNumber"),
        ("externalId", "mailNickname"),
        (f"{ENTERPRISE}:department", "department"),
        (f"{ENTERPRISE}:manager", "manager"),
    ]
    users = [
        mapping(target, attribute(source), 1 if target == "userName" else 0)
        for target, source in user_rows
    ]
    users.insert(1, mapping("active", parse_expression(ACTIVE)))
    users.insert(
        7,
        mapping(
            "name.formatted", parse_expression('Join(" ", [givenName], [surname])')
        ),
    )
    groups = [
        mapping("displayName", attribute("displayName"), 1),
        mapping("externalId", attribute("objectId")),
        mapping("members", attribute("members")),
    ]
    return {
        "id": "scim",
        "version": "date:2026-01-01T00:00:00Z",
        "directories": [
            {
                "id": "dir1",
                "name": "customappsso",
                "discoverabilities": "AttributeNames, AttributeDataTypes",
                "objects": [{"name": "User", "attributes": [], "metadata": []}],
                "readOnly": False,
            }
        ],
        "synchronizationRules": [
            {
                "id": "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8",
                "name": "USERGROUP_OUTBOUND_USERGROUP",
                "editable": True,
                "priority": 1,
                "sourceDirectoryName": "Azure Active Directory",
                "targetDirectoryName": "customappsso",
                "metadata": [{"key": "SomeFutureKey", "value": "kept"}],
                "containerFilter": {"includedContainers": []},
                "groupFilter": {"includedGroups": []},
                "someUnknownProperty": {"nested": [1, 2]},
                "objectMappings": [
                    {
                        "name": "Provision Azure Active Directory Groups",
                        "enabled": True,
                        "flowTypes": "Add, Update, Delete",
                        "sourceObjectName": "Group",
                        "targetObjectName": SCIM_GROUP,
                        "scope": None,
                        "metadata": [{"key": "Disposition", "value": '"Normal"'}],
                        "attributeMappings": groups,
                    },
                    {
                        "name": "Provision Azure Active Directory Users",
                        "enabled": True,
                        "flowTypes": "Add,Update,Delete",
                        "sourceObjectName": "User",
                        "targetObjectName": ENTERPRISE,
                        "scope": None,
                        "metadata": [{"key": "EscrowBehavior", "value": '"Default"'}],
                        "attributeMappings": users,
                    },
                ],
            }
        ],
    }


def object_mapping(schema: dict[str, Any], source: str) -> dict[str, Any]:
    for rule in schema["synchronizationRules"]:
        for om in rule["objectMappings"]:
            if om["sourceObjectName"] == source:
                return om  # type: ignore[no-any-return]
    raise AssertionError(source)


def user_mapping(schema: dict[str, Any], target: str) -> dict[str, Any]:
    for am in object_mapping(schema, "User")["attributeMappings"]:
        if am["targetAttributeName"] == target:
            return am  # type: ignore[no-any-return]
    raise AssertionError(target)


def test_desired_schema_makes_the_three_prompt_edits() -> None:
    desired = desired_schema(template_schema(), Settings())

    assert object_mapping(desired, "Group")["enabled"] is False
    users = object_mapping(desired, "User")["attributeMappings"]
    assert {am["targetAttributeName"] for am in users} == set(PROMPT_ATTRIBUTES)
    assert len(users) == len(PROMPT_ATTRIBUTES)
    assert user_mapping(desired, "externalId")["source"] == attribute("objectId")
    assert [am["targetAttributeName"] for am in users if am["matchingPriority"]] == [
        "userName"
    ]


def test_desired_schema_keeps_everything_it_does_not_edit() -> None:
    current = template_schema()

    desired = desired_schema(current, Settings())

    assert desired["directories"] == current["directories"]
    rule, old_rule = (
        desired["synchronizationRules"][0],
        current["synchronizationRules"][0],
    )
    assert rule["someUnknownProperty"] == {"nested": [1, 2]}
    assert rule["metadata"] == old_rule["metadata"]
    assert object_mapping(desired, "Group")["flowTypes"] == "Add, Update, Delete"
    assert object_mapping(desired, "User")["flowTypes"] == "Add,Update,Delete"
    assert (
        object_mapping(desired, "Group")["attributeMappings"]
        == (object_mapping(current, "Group")["attributeMappings"])
    )
    assert user_mapping(desired, "active") == user_mapping(current, "active")
    assert current == template_schema(), "the input must not be modified"


def test_desired_schema_keeps_unknown_keys_of_a_kept_mapping() -> None:
    current = template_schema()
    user_mapping(current, "displayName")["futureFlag"] = "x"
    user_mapping(current, "displayName")["flowType"] = "ObjectAddOnly"

    kept = user_mapping(desired_schema(current, Settings()), "displayName")

    assert kept["futureFlag"] == "x"
    assert kept["flowType"] == "ObjectAddOnly"


def test_desired_schema_json_round_trips() -> None:
    desired = desired_schema(template_schema(), Settings())

    assert json.loads(json.dumps(desired)) == desired


def test_groups_setting_enables_the_groups_mapping() -> None:
    desired = desired_schema(template_schema(), Settings(groups=True))

    assert object_mapping(desired, "Group")["enabled"] is True


def test_new_mapping_is_added_with_function_source() -> None:
    attributes = {**PROMPT_ATTRIBUTES, "title": 'Join(" - ", [jobTitle], [department])'}

    desired = desired_schema(template_schema(), Settings(user_attributes=attributes))

    title = user_mapping(desired, "title")
    assert title["source"]["type"] == "Function"
    assert title["source"]["name"] == "Join"
    assert [p["key"] for p in title["source"]["parameters"]] == [
        "separator",
        "source",
        "source",
    ]
    assert title["matchingPriority"] == 0
    assert title["flowType"] == "Always"


def test_matching_moves_to_the_configured_attribute() -> None:
    desired = desired_schema(template_schema(), Settings(matching="externalId"))

    assert user_mapping(desired, "externalId")["matchingPriority"] == 1
    assert user_mapping(desired, "userName")["matchingPriority"] == 0


def _groups_reenabled(schema: dict[str, Any]) -> None:
    object_mapping(schema, "Group")["enabled"] = True


def _mapping_edited(schema: dict[str, Any]) -> None:
    user_mapping(schema, "displayName")["source"] = attribute("mailNickname")


def _mapping_added(schema: dict[str, Any]) -> None:
    object_mapping(schema, "User")["attributeMappings"].append(
        mapping("title", attribute("jobTitle"))
    )


def _mapping_removed(schema: dict[str, Any]) -> None:
    users = object_mapping(schema, "User")["attributeMappings"]
    users[:] = [am for am in users if am["targetAttributeName"] != "name.familyName"]


def _matching_changed(schema: dict[str, Any]) -> None:
    user_mapping(schema, "userName")["matchingPriority"] = 0
    user_mapping(schema, "externalId")["matchingPriority"] = 1


def _active_replaced(schema: dict[str, Any]) -> None:
    user_mapping(schema, "active")["source"] = parse_expression("Not([IsSoftDeleted])")


def _users_disabled(schema: dict[str, Any]) -> None:
    object_mapping(schema, "User")["enabled"] = False


def _duplicate_mapping(schema: dict[str, Any]) -> None:
    users = object_mapping(schema, "User")["attributeMappings"]
    users.append(copy.deepcopy(users[0]))


DRIFT_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("groups re-enabled", _groups_reenabled, "Groups object mapping is enabled"),
    ("mapping edited", _mapping_edited, "displayName maps from [mailNickname]"),
    ("mapping added", _mapping_added, "title <- [jobTitle] is not configured"),
    ("mapping removed", _mapping_removed, "name.familyName <- [surname] is missing"),
    ("matching changed", _matching_changed, "userName has matchingPriority 0"),
    ("function replaced", _active_replaced, "active maps from Not([IsSoftDeleted])"),
    ("users disabled", _users_disabled, "Users object mapping is disabled"),
    ("duplicate mapping", _duplicate_mapping, "appears more than once"),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [pytest.param(change, text, id=name) for name, change, text in DRIFT_CASES],
)
def test_hand_change_shows_as_drift_and_is_reverted(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    settings = Settings()
    in_shape = desired_schema(template_schema(), settings)
    changed = copy.deepcopy(in_shape)
    change(changed)

    drift = schema_drift(changed, settings)

    assert any(expected in line for line in drift), drift
    repaired = desired_schema(changed, settings)
    assert schema_drift(repaired, settings) == []
    assert _comparable(repaired) == _comparable(in_shape)


def _comparable(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with user mappings sorted: position is not a setting."""
    result = copy.deepcopy(schema)
    users = object_mapping(result, "User")["attributeMappings"]
    users.sort(key=lambda am: am["targetAttributeName"])
    return result


def test_template_schema_drifts_from_prompt_settings() -> None:
    drift = schema_drift(template_schema(), Settings())

    assert "Groups object mapping is enabled (want disabled)" in drift
    assert "user mapping externalId maps from [mailNickname], want [objectId]" in drift
    assert "user mapping title <- [jobTitle] is not configured" in drift


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(groups=True),
        Settings(matching="externalId"),
        Settings(user_attributes={"userName": "userPrincipalName", "active": ACTIVE}),
        Settings(
            user_attributes={
                **PROMPT_ATTRIBUTES,
                "title": 'Replace([jobTitle], "-", , , "_", , )',
                "preferredLanguage": "Mid([preferredLanguage], 1, 2)",
            }
        ),
    ],
)
def test_desired_schema_is_idempotent_and_in_shape(settings: Settings) -> None:
    desired = desired_schema(template_schema(), settings)

    assert desired_schema(desired, settings) == desired
    assert schema_drift(desired, settings) == []


def test_equivalent_expression_text_is_not_drift() -> None:
    settings = Settings()
    desired = desired_schema(template_schema(), settings)
    user_mapping(desired, "active")["source"]["expression"] = (
        'Switch( [IsSoftDeleted] ,, "False","True", "True","False" )'
    )

    assert schema_drift(desired, settings) == []
    assert desired_schema(desired, settings) == desired


def test_matching_attribute_must_be_mapped() -> None:
    with pytest.raises(MappingInvalid, match="'employeeId' is not among"):
        desired_schema(template_schema(), Settings(matching="employeeId"))


def test_bad_expression_names_the_attribute() -> None:
    attributes = {**PROMPT_ATTRIBUTES, "displayName": "Join(' ', [givenName])"}

    with pytest.raises(MappingInvalid, match=r"user_attributes\.displayName"):
        schema_drift(template_schema(), Settings(user_attributes=attributes))


def test_schema_without_user_mapping_is_refused() -> None:
    schema = template_schema()
    rule = schema["synchronizationRules"][0]
    rule["objectMappings"] = [object_mapping(schema, "Group")]

    with pytest.raises(SchemaUnexpected, match="sourceObjectName 'User'"):
        desired_schema(schema, Settings())


@pytest.mark.parametrize(
    ("expression", "source"),
    [
        ("userPrincipalName", attribute("userPrincipalName")),
        ("[objectId]", attribute("objectId")),
        (
            '"Nursing"',
            {
                "expression": '"Nursing"',
                "name": "Nursing",
                "parameters": [],
                "type": "Constant",
            },
        ),
        (
            "Not([IsSoftDeleted])",
            {
                "expression": "Not([IsSoftDeleted])",
                "name": "Not",
                "parameters": [{"key": "source", "value": attribute("IsSoftDeleted")}],
                "type": "Function",
            },
        ),
        (
            'Replace([preferredLanguage], "-", , , "_", , )',
            {
                "expression": 'Replace([preferredLanguage], "-", , , "_", , )',
                "name": "Replace",
                "parameters": [
                    {"key": "source", "value": attribute("preferredLanguage")},
                    {
                        "key": "Find",
                        "value": {
                            "expression": '"-"',
                            "name": "-",
                            "parameters": [],
                            "type": "Constant",
                        },
                    },
                    {
                        "key": "Replacement",
                        "value": {
                            "expression": '"_"',
                            "name": "_",
                            "parameters": [],
                            "type": "Constant",
                        },
                    },
                ],
                "type": "Function",
            },
        ),
        (
            "Guid()",
            {
                "expression": "Guid()",
                "name": "Guid",
                "parameters": [],
                "type": "Function",
            },
        ),
    ],
)
def test_parse_expression_builds_attribute_mapping_source(
    expression: str, source: dict[str, Any]
) -> None:
    assert parse_expression(expression) == source


def test_switch_skips_the_empty_default_and_pairs_keys_with_values() -> None:
    source = parse_expression(ACTIVE)

    assert source["expression"] == ACTIVE
    assert source["name"] == "Switch"
    assert [(p["key"], p["value"]["expression"]) for p in source["parameters"]] == [
        ("source", "[IsSoftDeleted]"),
        ("key", '"False"'),
        ("value", '"True"'),
        ("key", '"True"'),
        ("value", '"False"'),
    ]


def test_nested_functions_and_numbers() -> None:
    source = parse_expression('ToLower(Mid([givenName], 1, 1), "en-US")')

    assert source["expression"] == 'ToLower(Mid([givenName], 1, 1), "en-US")'
    inner = source["parameters"][0]["value"]
    assert inner["name"] == "Mid"
    assert inner["parameters"][1] == {
        "key": "start",
        "value": {
            "expression": '"1"',
            "name": "1",
            "parameters": [],
            "type": "Constant",
        },
    }
    assert source["parameters"][1]["key"] == "culture"


def test_quotes_inside_constants_are_escaped() -> None:
    source = parse_expression(r'Append([displayName], " \"ext\"")')

    constant = source["parameters"][1]["value"]
    assert constant["name"] == ' "ext"'
    assert constant["expression"] == r'" \"ext\""'


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("  mail ", "[mail]"),
        (
            'switch([IsSoftDeleted],,"False","True")',
            'Switch([IsSoftDeleted], , "False", "True")',
        ),
        ('JOIN(" ",[a],[b])', 'Join(" ", [a], [b])'),
    ],
)
def test_expression_text_is_canonical(text: str, canonical: str) -> None:
    assert expression_text(text) == canonical


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Foo([x])", "unknown function 'Foo'"),
        ("Switch([x]", "missing ')'"),
        ("Not([a], [b])", "Not takes at most 1 arguments"),
        ("[a] [b]", "unexpected text after the expression"),
        ("given name", "expected '(' after 'given'"),
        ('Join(" " [a])', "expected ',' or ')'"),
        ("Join(' ', [a])", "unexpected character"),
        ("", "Empty source expression"),
        (")", "expected an attribute, constant or function"),
    ],
)
def test_unreadable_expression_is_refused(text: str, problem: str) -> None:
    with pytest.raises(
        MappingInvalid, match=problem.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_expression(text)


def test_spec_defaults_produce_the_seed_mappings() -> None:
    from provisioning.spec import ProvisioningSettings

    settings = ProvisioningSettings()

    desired = desired_schema(template_schema(), settings)

    assert object_mapping(desired, "Group")["enabled"] is False
    users = object_mapping(desired, "User")["attributeMappings"]
    assert {am["targetAttributeName"] for am in users} == set(settings.user_attributes)
    assert user_mapping(desired, "externalId")["source"] == attribute("objectId")
    assert user_mapping(desired, "userName")["matchingPriority"] == 1
    assert schema_drift(desired, settings) == []
