"""Schemas and resource types the service stores and advertises (RFC 7643 sections 4-8).

Only attributes Prompt really stores are listed; `/Schemas`, `/ResourceTypes` and
`/ServiceProviderConfig` representations (RFC 7644 section 4) are built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMMON_ATTRIBUTES",
    "CORE_GROUP",
    "CORE_USER",
    "ENTERPRISE_USER",
    "GROUP",
    "PROMPT_USER",
    "RESOURCE_TYPES",
    "SCHEMAS",
    "USER",
    "Attribute",
    "ResourceType",
    "Schema",
    "resource_type_representation",
    "schema_representation",
    "service_provider_config",
]

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROMPT_USER = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"

_SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
_RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
_SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition (RFC 7643 section 7, "attributes")."""

    name: str
    type: str = "string"
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    description: str = ""
    _by_lower: dict[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_lower.update({a.name.lower(): a for a in self.sub_attributes})

    def sub(self, name: str) -> Attribute | None:
        """Return the sub-attribute called `name` (case-insensitive, RFC 7643 2.1)."""
        return self._by_lower.get(name.lower())


@dataclass(frozen=True)
class Schema:
    """A schema: its URN, a name, and its top-level attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_lower: dict[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_lower.update({a.name.lower(): a for a in self.attributes})

    def attribute(self, name: str) -> Attribute | None:
        """Return the attribute called `name` (case-insensitive, RFC 7643 2.1)."""
        return self._by_lower.get(name.lower())


@dataclass(frozen=True)
class ResourceType:
    """A resource type: endpoint, core schema and extension schemas."""

    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[Schema, ...] = ()
    required_attributes: tuple[str, ...] = ()

    def __hash__(self) -> int:
        # The generated hash walks every attribute of every schema (~0.1 ms);
        # resource types key dicts on the request path, and names are unique.
        return hash(self.name)

    @property
    def schema_ids(self) -> tuple[str, ...]:
        """The core schema URN followed by every extension URN."""
        return (self.schema.id, *(e.id for e in self.extensions))

    def extension(self, urn: str) -> Schema | None:
        """Return the extension schema with this URN (compared case-insensitively)."""
        lowered = urn.lower()
        for ext in self.extensions:
            if ext.id.lower() == lowered:
                return ext
        return None

    def core_attribute(self, name: str) -> Attribute | None:
        """Return a core-schema or common attribute (id, externalId, meta) by name."""
        return self.schema.attribute(name) or _COMMON_BY_LOWER.get(name.lower())


def _s(name: str, description: str, **kw: Any) -> Attribute:
    return Attribute(name=name, type="string", description=description, **kw)


def _multi(
    name: str,
    description: str,
    *,
    value_type: str = "string",
    types: tuple[str, ...] = (),
    reference_types: tuple[str, ...] = (),
) -> Attribute:
    """A multi-valued complex attribute of the value/display/type/primary family."""
    return Attribute(
        name=name,
        type="complex",
        multi_valued=True,
        description=description,
        sub_attributes=(
            Attribute(
                name="value",
                type=value_type,
                reference_types=reference_types,
                description=f"The {name} value.",
            ),
            _s("display", "Human-readable name, for display only."),
            _s("type", "Label of this value's function.", canonical_values=types),
            Attribute(
                name="primary",
                type="boolean",
                description="True for the preferred value; at most one is true.",
            ),
        ),
    )


# RFC 7643 3.1: id and meta (with all of its sub-attributes) are read-only.
_META_SUBS = (
    _s("resourceType", "Name of the resource type.", case_exact=True),
    Attribute(name="created", type="dateTime", description="Creation time."),
    Attribute(name="lastModified", type="dateTime", description="Last change time."),
    Attribute(
        name="location",
        type="reference",
        case_exact=True,
        reference_types=("uri",),
        description="URI of the resource.",
    ),
    _s("version", "Weak entity tag of the resource.", case_exact=True),
)
COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        name="id",
        case_exact=True,
        mutability="readOnly",
        returned="always",
        uniqueness="server",
        description="Identifier the service assigned to the resource.",
    ),
    _s(
        "externalId",
        "Identifier of the resource in the provisioning client (Entra objectId).",
        case_exact=True,
    ),
    Attribute(
        name="meta",
        type="complex",
        mutability="readOnly",
        description="Resource metadata maintained by the service.",
        sub_attributes=tuple(
            Attribute(
                name=sub.name,
                type=sub.type,
                case_exact=sub.case_exact,
                mutability="readOnly",
                reference_types=sub.reference_types,
                description=sub.description,
            )
            for sub in _META_SUBS
        ),
    ),
)
_COMMON_BY_LOWER = {a.name.lower(): a for a in COMMON_ATTRIBUTES}

_NAME = Attribute(
    name="name",
    type="complex",
    description="Components of the user's real name.",
    sub_attributes=(
        _s("formatted", "Full name, formatted for display."),
        _s("familyName", "Family name (surname)."),
        _s("givenName", "Given name (first name)."),
        _s("middleName", "Middle name(s)."),
        _s("honorificPrefix", "Honorific prefix, such as 'Ms.'."),
        _s("honorificSuffix", "Honorific suffix, such as 'III'."),
    ),
)

_ADDRESSES = Attribute(
    name="addresses",
    type="complex",
    multi_valued=True,
    description="Physical mailing addresses.",
    sub_attributes=(
        _s("formatted", "Full address, formatted for display."),
        _s("streetAddress", "Street and house number."),
        _s("locality", "City or locality."),
        _s("region", "State or region."),
        _s("postalCode", "Postal code."),
        _s("country", "Country (ISO 3166-1 alpha-2 code)."),
        _s(
            "type", "Label of this address.", canonical_values=("work", "home", "other")
        ),
        Attribute(
            name="primary",
            type="boolean",
            description="True for the preferred address; at most one is true.",
        ),
    ),
)

_USER_SCHEMA = Schema(
    id=CORE_USER,
    name="User",
    description="User account",
    attributes=(
        _s(
            "userName",
            "Unique sign-in name of the user (Entra userPrincipalName).",
            required=True,
            uniqueness="server",
        ),
        _NAME,
        _s("displayName", "Name of the user, for display."),
        _s("nickName", "Casual name of the user."),
        Attribute(
            name="profileUrl",
            type="reference",
            reference_types=("external",),
            description="URL of the user's online profile.",
        ),
        _s("title", "Job title."),
        _s("userType", "Relationship of the user to the organisation."),
        _s("preferredLanguage", "Preferred written or spoken language."),
        _s("locale", "Locale for localising values such as dates."),
        _s("timezone", "Time zone in IANA format, such as 'Europe/London'."),
        Attribute(
            name="active",
            type="boolean",
            description="False when the user is deactivated in the client.",
        ),
        _s(
            "password",
            "Accepted for compatibility and discarded: Prompt signs users in by SSO.",
            mutability="writeOnly",
            returned="never",
        ),
        _multi("emails", "E-mail addresses.", types=("work", "home", "other")),
        _multi(
            "phoneNumbers",
            "Telephone numbers.",
            types=("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi(
            "ims",
            "Instant messaging addresses.",
            types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi(
            "photos",
            "URLs of photos of the user.",
            value_type="reference",
            types=("photo", "thumbnail"),
            reference_types=("external",),
        ),
        _ADDRESSES,
        _multi("entitlements", "Entitlements of the user."),
        _multi("roles", "Roles of the user."),
        _multi(
            "x509Certificates",
            "X.509 certificates of the user (base64 DER).",
            value_type="binary",
        ),
    ),
)

_ENTERPRISE_SCHEMA = Schema(
    id=ENTERPRISE_USER,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        _s("employeeNumber", "Identifier of the user in the organisation."),
        _s("costCenter", "Cost center."),
        _s("organization", "Organisation name."),
        _s("division", "Division name."),
        _s("department", "Department name."),
        # Only the manager's id is stored, so only `value` is advertised; the
        # `$ref` and `displayName` Entra may send are accepted and dropped.
        Attribute(
            name="manager",
            type="complex",
            description="The user's manager.",
            sub_attributes=(
                Attribute(
                    name="value",
                    case_exact=True,
                    description="SCIM id of the manager's User resource.",
                ),
            ),
        ),
    ),
)

_PROMPT_SCHEMA = Schema(
    id=PROMPT_USER,
    name="PromptUser",
    description="Prompt placement of the user",
    attributes=(
        _s("department", "Prompt department the user belongs to."),
        _s("section", "Prompt section within the department."),
    ),
)

_GROUP_SCHEMA = Schema(
    id=CORE_GROUP,
    name="Group",
    description="Group",
    attributes=(
        _s("displayName", "Name of the group.", required=True),
        Attribute(
            name="members",
            type="complex",
            multi_valued=True,
            description="Members of the group.",
            sub_attributes=(
                Attribute(
                    name="value",
                    case_exact=True,
                    mutability="immutable",
                    description="SCIM id of the member.",
                ),
                Attribute(
                    name="$ref",
                    type="reference",
                    case_exact=True,
                    mutability="immutable",
                    reference_types=("User", "Group"),
                    description="URI of the member resource.",
                ),
                _s("display", "Name of the member, for display."),
                _s(
                    "type",
                    "Resource type of the member.",
                    mutability="immutable",
                    canonical_values=("User", "Group"),
                ),
            ),
        ),
    ),
)

USER = ResourceType(
    name="User",
    endpoint="/Users",
    description="User Account",
    schema=_USER_SCHEMA,
    extensions=(_ENTERPRISE_SCHEMA, _PROMPT_SCHEMA),
    required_attributes=("userName",),
)
GROUP = ResourceType(
    name="Group",
    endpoint="/Groups",
    description="Group",
    schema=_GROUP_SCHEMA,
    required_attributes=("displayName",),
)
RESOURCE_TYPES: dict[str, ResourceType] = {"User": USER, "Group": GROUP}
SCHEMAS: dict[str, Schema] = {
    s.id: s for s in (_USER_SCHEMA, _ENTERPRISE_SCHEMA, _PROMPT_SCHEMA, _GROUP_SCHEMA)
}


def _attribute_representation(attr: Attribute) -> dict[str, Any]:
    rep: dict[str, Any] = {
        "name": attr.name,
        "type": attr.type,
        "multiValued": attr.multi_valued,
        "description": attr.description,
        "required": attr.required,
        "caseExact": attr.case_exact,
        "mutability": attr.mutability,
        "returned": attr.returned,
        "uniqueness": attr.uniqueness,
    }
    if attr.canonical_values:
        rep["canonicalValues"] = list(attr.canonical_values)
    if attr.reference_types:
        rep["referenceTypes"] = list(attr.reference_types)
    if attr.sub_attributes:
        rep["subAttributes"] = [
            _attribute_representation(sub) for sub in attr.sub_attributes
        ]
    return rep


def schema_representation(schema: Schema, base_url: str) -> dict[str, Any]:
    """Return the `/Schemas/{id}` resource (RFC 7643 section 7)."""
    return {
        "schemas": [_SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [_attribute_representation(a) for a in schema.attributes],
        "meta": {
            "resourceType": "Schema",
            "location": f"{base_url.rstrip('/')}/Schemas/{schema.id}",
        },
    }


def resource_type_representation(rt: ResourceType, base_url: str) -> dict[str, Any]:
    """Return the `/ResourceTypes/{name}` resource (RFC 7643 section 6)."""
    rep: dict[str, Any] = {
        "schemas": [_RESOURCE_TYPE_SCHEMA],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
    }
    if rt.extensions:
        rep["schemaExtensions"] = [
            {"schema": ext.id, "required": False} for ext in rt.extensions
        ]
    rep["meta"] = {
        "resourceType": "ResourceType",
        "location": f"{base_url.rstrip('/')}/ResourceTypes/{rt.name}",
    }
    return rep


def service_provider_config(
    base_url: str,
    *,
    max_results: int,
    etag: bool,
    bulk: bool,
    search: bool,
    bulk_max_operations: int = 1000,
    bulk_max_payload_size: int = 1_048_576,
) -> dict[str, Any]:
    """Return `/ServiceProviderConfig` (RFC 7643 section 5).

    `search` (POST /.search) has no field of its own in RFC 7643 section 5; it is
    accepted so callers pass one set of feature switches, and not advertised.
    """
    del search
    return {
        "schemas": [_SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {
            "supported": bulk,
            "maxOperations": bulk_max_operations if bulk else 0,
            "maxPayloadSize": bulk_max_payload_size if bulk else 0,
        },
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": etag},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": (
                    "Send the organisation's Provisioning Authentication Code as "
                    "'Authorization: Bearer <code>'."
                ),
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url.rstrip('/')}/ServiceProviderConfig",
        },
    }
