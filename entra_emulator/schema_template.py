"""The default synchronization schema of the non-gallery `scim` template.

Microsoft does not publish it; this follows graph.md section 7 (rule id, object and
attribute mappings of the customappsso target, flowTypes as flags strings) and is
what a freshly created job answers on GET .../jobs/{id}/schema.
"""

from __future__ import annotations

from typing import Any

from .expressions import parse, to_source_json

RULE_ID = "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8"
SOURCE_DIRECTORY = "Microsoft Entra ID"
TARGET_DIRECTORY = "customappsso"
SCIM_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ACTIVE_EXPRESSION = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'

# (target attribute, source expression, matching priority) of the default user mapping
DEFAULT_USER_MAPPINGS: list[tuple[str, str, int]] = [
    ("userName", "[userPrincipalName]", 1),
    ("active", ACTIVE_EXPRESSION, 0),
    ("displayName", "[displayName]", 0),
    ("title", "[jobTitle]", 0),
    ('emails[type eq "work"].value', "[mail]", 0),
    ("preferredLanguage", "[preferredLanguage]", 0),
    ("name.givenName", "[givenName]", 0),
    ("name.familyName", "[surname]", 0),
    ("name.formatted", 'Join(" ", [givenName], [surname])', 0),
    ('addresses[type eq "work"].formatted', "[physicalDeliveryOfficeName]", 0),
    ('addresses[type eq "work"].streetAddress', "[streetAddress]", 0),
    ('addresses[type eq "work"].locality', "[city]", 0),
    ('addresses[type eq "work"].region', "[state]", 0),
    ('addresses[type eq "work"].postalCode', "[postalCode]", 0),
    ('addresses[type eq "work"].country', "[country]", 0),
    ('phoneNumbers[type eq "work"].value', "[telephoneNumber]", 0),
    ('phoneNumbers[type eq "mobile"].value', "[mobile]", 0),
    ('phoneNumbers[type eq "fax"].value', "[facsimileTelephoneNumber]", 0),
    ("externalId", "[mailNickname]", 0),
    (f"{ENTERPRISE}:employeeNumber", "[employeeId]", 0),
    (f"{ENTERPRISE}:department", "[department]", 0),
    (f"{ENTERPRISE}:manager", "[manager]", 0),
]

DEFAULT_GROUP_MAPPINGS: list[tuple[str, str, int]] = [
    ("displayName", "[displayName]", 1),
    ("externalId", "[objectId]", 0),
    ("members", "[members]", 0),
]

_ENTRA_USER_ATTRIBUTES = [
    "objectId", "userPrincipalName", "displayName", "givenName", "surname", "mail",
    "mailNickname", "accountEnabled", "IsSoftDeleted", "jobTitle", "department",
    "employeeId", "preferredLanguage", "physicalDeliveryOfficeName", "streetAddress",
    "city", "state", "postalCode", "country", "telephoneNumber", "mobile",
    "facsimileTelephoneNumber", "manager", "companyName",
]  # fmt: skip
_ENTRA_GROUP_ATTRIBUTES = ["objectId", "displayName", "mailNickname", "members"]


def attribute_mapping(target: str, expression: str, priority: int) -> dict[str, Any]:
    """Return one attributeMapping as Graph serializes it."""
    return {
        "defaultValue": None,
        "exportMissingReferences": False,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": priority,
        "source": to_source_json(parse(expression)),
        "targetAttributeName": target,
    }


def _attribute_definition(name: str, *, multivalued: bool = False) -> dict[str, Any]:
    reference = name in ("manager", "members")
    return {
        "anchor": name in ("objectId", "id"),
        "apiExpressions": [],
        "caseExact": False,
        "defaultValue": None,
        "flowNullValues": False,
        "metadata": [],
        "multivalued": multivalued or name == "members",
        "mutability": "ReadWrite",
        "name": name,
        "referencedObjects": [
            {"referencedObjectName": "User", "referencedProperty": None}
        ]
        if reference
        else [],
        "required": name in ("userName", "userPrincipalName"),
        "type": "Boolean"
        if name in ("active", "accountEnabled", "IsSoftDeleted")
        else "Reference"
        if reference
        else "String",
    }


def _object(name: str, attributes: list[str]) -> dict[str, Any]:
    return {
        "attributes": [_attribute_definition(a) for a in attributes],
        "metadata": [],
        "name": name,
        "supportedApis": [],
    }


def _directories() -> list[dict[str, Any]]:
    scim_user = [m[0] for m in DEFAULT_USER_MAPPINGS] + ["id"]
    scim_group = [m[0] for m in DEFAULT_GROUP_MAPPINGS] + ["id"]
    return [
        {
            "discoverabilities": "None",
            "discoveryDateTime": None,
            "id": "66e4a8cc-1b7b-435e-95f8-f06cea133828",
            "name": SOURCE_DIRECTORY,
            "objects": [
                _object("User", _ENTRA_USER_ATTRIBUTES),
                _object("Group", _ENTRA_GROUP_ATTRIBUTES),
            ],
            "readOnly": True,
            "version": "1.0",
        },
        {
            "discoverabilities": "AttributeNames, AttributeDataTypes",
            "discoveryDateTime": None,
            "id": "8ffa6169-f354-4751-9b77-9c00765be92d",
            "name": TARGET_DIRECTORY,
            "objects": [_object(SCIM_USER, scim_user), _object(SCIM_GROUP, scim_group)],
            "readOnly": False,
            "version": "1.0",
        },
    ]


def _object_mapping(
    name: str, source: str, target: str, mappings: list[tuple[str, str, int]]
) -> dict[str, Any]:
    return {
        "attributeMappings": [attribute_mapping(*m) for m in mappings],
        "enabled": True,
        "flowTypes": "Add, Update, Delete",
        "metadata": [],
        "name": name,
        "scope": None,
        "sourceObjectName": source,
        "targetObjectName": target,
    }


def default_schema(job_id: str) -> dict[str, Any]:
    """Return the schema a new `scim` job starts with (group mapping enabled)."""
    return {
        "directories": _directories(),
        "id": job_id,
        "synchronizationRules": [
            {
                "containerFilter": {"includedContainers": []},
                "editable": True,
                "groupFilter": {"includedGroups": []},
                "id": RULE_ID,
                "metadata": [],
                "name": "USERGROUP_OUTBOUND_USERGROUP",
                "objectMappings": [
                    _object_mapping(
                        "Provision Microsoft Entra ID Groups",
                        "Group",
                        SCIM_GROUP,
                        DEFAULT_GROUP_MAPPINGS,
                    ),
                    _object_mapping(
                        "Provision Microsoft Entra ID Users",
                        "User",
                        SCIM_USER,
                        DEFAULT_USER_MAPPINGS,
                    ),
                ],
                "priority": 1,
                "sourceDirectoryName": SOURCE_DIRECTORY,
                "targetDirectoryName": TARGET_DIRECTORY,
            }
        ],
        "version": "Date:2026-01-01T00:00:00Z;MappingsVersion:1",
    }
