"""Sample resources for the SCIM protocol tests: an Entra-shaped User and a Group."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scim_service.protocol.resource import parse_resource, render
from scim_service.protocol.schema import GROUP, USER

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROMPT = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

USER_BODY: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Adele.Vance@Contoso.com",
    "active": True,
    "displayName": "Adele Vance",
    "title": "Retail Manager",
    "name": {"formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele"},
    "emails": [
        {"type": "work", "value": "AdeleV@contoso.com", "primary": True},
        {"type": "home", "value": "adele@example.org"},
    ],
    "phoneNumbers": [{"type": "mobile", "value": "+1 425 555 0109"}],
    ENTERPRISE: {
        "employeeNumber": "E-1042",
        "department": "Retail",
        "manager": {"value": "mgr-7"},
    },
    PROMPT: {"department": "Nursing", "section": "Ward 3"},
}


def rendered_user(body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Render USER_BODY (or `body`) as the service would return it."""
    return render(
        parse_resource(body or USER_BODY, USER),
        USER,
        id="2819c223-7f76-453a-919d-413861904646",
        created=datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
        last_modified=datetime(2024, 5, 14, 17, 2, 11, tzinfo=UTC),
        version=4,
        location="https://prompt.example/scim/v2/Users/2819c223",
    )


def rendered_group() -> dict[str, Any]:
    """A Group with two members, rendered."""
    doc = parse_resource(
        {"displayName": "Ward 3 Nurses", "members": [{"value": "u1"}, {"value": "u2"}]},
        GROUP,
    )
    return render(
        doc,
        GROUP,
        id="g-1",
        created=datetime(2024, 1, 1, tzinfo=UTC),
        last_modified=datetime(2024, 1, 1, tzinfo=UTC),
        version=1,
        location="https://prompt.example/scim/v2/Groups/g-1",
    )
