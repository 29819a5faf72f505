"""Plain records the store returns: organisations, tokens, resources, audit events.

Frozen dataclasses, so callers can share them between threads without copying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Prompt's own User extension; a re-attached User keeps these values.
PROMPT_EXTENSION = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"


@dataclass(frozen=True)
class Organisation:
    """One Prompt organisation, the tenant a SCIM token belongs to."""

    id: int
    slug: str
    display_name: str
    tenant_id: str | None
    sso_enabled: bool
    provisioning_enabled: bool
    default_department: str | None
    default_section: str | None
    created: datetime
    updated: datetime


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a Provisioning Authentication Code (never the secret)."""

    id: str
    organisation_slug: str
    label: str | None
    created: datetime
    last_used: datetime | None
    revoked: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token; `secret` exists only here and is shown once."""

    info: TokenInfo
    secret: str

    def __repr__(self) -> str:
        # Keep the secret out of logs and tracebacks that print locals.
        return f"IssuedToken(info={self.info!r}, secret='***')"


@dataclass(frozen=True)
class StoredResource:
    """One live SCIM resource: its document plus the values `meta` is rendered from."""

    id: str
    resource_type: str
    doc: dict[str, Any]
    created: datetime
    last_modified: datetime
    version: int


@dataclass(frozen=True)
class Actor:
    """Who made a change: `kind` is "scim", "admin" or "cli"."""

    kind: str
    token_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit trail; documents before and after the change."""

    id: int
    organisation_slug: str
    at: datetime
    actor_kind: str
    token_id: str | None
    request_id: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
