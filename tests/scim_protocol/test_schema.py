from __future__ import annotations

from typing import Any

import pytest
import scim2_models

from scim_service.protocol.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    GROUP,
    PROMPT_USER,
    RESOURCE_TYPES,
    SCHEMAS,
    USER,
    resource_type_representation,
    schema_representation,
    service_provider_config,
)

BASE = "https://prompt.example/scim/v2/"


def _attributes(urn: str) -> dict[str, dict[str, Any]]:
    rep = schema_representation(SCHEMAS[urn], BASE)
    return {a["name"]: a for a in rep["attributes"]}


def _no_nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return all(v is not None and _no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nulls(v) for v in value)
    return True


def test_resource_types_and_schemas() -> None:
    assert RESOURCE_TYPES == {"User": USER, "Group": GROUP}
    assert list(SCHEMAS) == [CORE_USER, ENTERPRISE_USER, PROMPT_USER, CORE_GROUP]
    assert USER.schema_ids == (CORE_USER, ENTERPRISE_USER, PROMPT_USER)
    assert USER.endpoint == "/Users"
    assert GROUP.endpoint == "/Groups"


def test_core_user_attributes_advertised() -> None:
    names = list(_attributes(CORE_USER))

    assert names == [
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509Certificates",
    ]


@pytest.mark.parametrize(
    ("urn", "name", "expected"),
    [
        (
            CORE_USER,
            "userName",
            {"required": True, "caseExact": False, "uniqueness": "server"},
        ),
        (CORE_USER, "password", {"mutability": "writeOnly", "returned": "never"}),
        (CORE_USER, "active", {"type": "boolean", "multiValued": False}),
        (CORE_USER, "emails", {"type": "complex", "multiValued": True}),
        (
            CORE_USER,
            "profileUrl",
            {"type": "reference", "referenceTypes": ["external"]},
        ),
        (CORE_USER, "x509Certificates", {"type": "complex", "multiValued": True}),
        (ENTERPRISE_USER, "department", {"type": "string", "mutability": "readWrite"}),
        (ENTERPRISE_USER, "manager", {"type": "complex", "multiValued": False}),
        (PROMPT_USER, "department", {"type": "string", "mutability": "readWrite"}),
        (PROMPT_USER, "section", {"type": "string", "mutability": "readWrite"}),
        (CORE_GROUP, "displayName", {"required": True}),
        (CORE_GROUP, "members", {"type": "complex", "multiValued": True}),
    ],
)
def test_attribute_characteristics(
    urn: str, name: str, expected: dict[str, Any]
) -> None:
    attribute = _attributes(urn)[name]

    for key, value in expected.items():
        assert attribute[key] == value


def test_sub_attributes_and_canonical_values() -> None:
    emails = _attributes(CORE_USER)["emails"]
    subs = {s["name"]: s for s in emails["subAttributes"]}

    assert list(subs) == ["value", "display", "type", "primary"]
    assert subs["type"]["canonicalValues"] == ["work", "home", "other"]
    assert subs["primary"]["type"] == "boolean"
    assert [s["name"] for s in _attributes(CORE_USER)["name"]["subAttributes"]] == [
        "formatted",
        "familyName",
        "givenName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
    ]
    members = {
        s["name"]: s for s in _attributes(CORE_GROUP)["members"]["subAttributes"]
    }
    assert list(members) == ["value", "$ref", "display", "type"]
    assert members["type"]["canonicalValues"] == ["User", "Group"]


def test_manager_advertises_only_what_is_stored() -> None:
    manager = _attributes(ENTERPRISE_USER)["manager"]

    assert [s["name"] for s in manager["subAttributes"]] == ["value"]


def test_groups_and_common_attributes_are_not_in_the_user_schema() -> None:
    names = _attributes(CORE_USER)

    # We do not compute User.groups, so we do not advertise it.
    assert "groups" not in names
    # RFC 7643 3.1: id, externalId and meta are common, not schema attributes.
    assert not {"id", "externalId", "meta"} & set(names)


@pytest.mark.parametrize("urn", list(SCHEMAS))
def test_schema_representation_is_valid_scim(urn: str) -> None:
    rep = schema_representation(SCHEMAS[urn], BASE)

    parsed = scim2_models.Schema.model_validate(rep)

    assert parsed.id == urn
    assert rep["meta"] == {
        "resourceType": "Schema",
        "location": f"https://prompt.example/scim/v2/Schemas/{urn}",
    }
    assert _no_nulls(rep)


@pytest.mark.parametrize("rt", [USER, GROUP])
def test_resource_type_representation_is_valid_scim(rt: Any) -> None:
    rep = resource_type_representation(rt, BASE)

    parsed = scim2_models.ResourceType.model_validate(rep)

    assert parsed.endpoint == rt.endpoint
    assert rep["schema"] == rt.schema.id
    assert (
        rep["meta"]["location"]
        == f"https://prompt.example/scim/v2/ResourceTypes/{rt.name}"
    )
    assert _no_nulls(rep)


def test_user_resource_type_lists_both_extensions_as_optional() -> None:
    rep = resource_type_representation(USER, BASE)

    assert rep["schemaExtensions"] == [
        {"schema": ENTERPRISE_USER, "required": False},
        {"schema": PROMPT_USER, "required": False},
    ]
    assert "schemaExtensions" not in resource_type_representation(GROUP, BASE)


@pytest.mark.parametrize(("etag", "bulk"), [(False, False), (True, True)])
def test_service_provider_config(etag: bool, bulk: bool) -> None:
    rep = service_provider_config(
        BASE, max_results=200, etag=etag, bulk=bulk, search=False
    )

    parsed = scim2_models.ServiceProviderConfig.model_validate(rep)

    assert parsed.patch is not None
    assert parsed.patch.supported is True
    assert rep["filter"] == {"supported": True, "maxResults": 200}
    assert rep["changePassword"] == {"supported": False}
    assert rep["sort"] == {"supported": False}
    assert rep["etag"] == {"supported": etag}
    assert rep["bulk"]["supported"] is bulk
    assert [s["type"] for s in rep["authenticationSchemes"]] == ["oauthbearertoken"]
    assert (
        rep["meta"]["location"]
        == "https://prompt.example/scim/v2/ServiceProviderConfig"
    )
    assert _no_nulls(rep)
