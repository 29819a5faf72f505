"""Admin API under /admin: organisations, Provisioning Authentication Codes, audit.

Protected by `Authorization: Bearer <PROMPT_SCIM_ADMIN_KEY>`; documented by the
OpenAPI schema at /admin/openapi.json. The provisioning engine drives it.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from scim_service.api._context import request_info
from scim_service.settings import Settings
from scim_service.storage import (
    Actor,
    AuditEvent,
    Organisation,
    Store,
    TokenInfo,
)

ADMIN_KEY_ENV = "PROMPT_SCIM_ADMIN_KEY"
SECRET_WARNING = (
    "Store this Provisioning Authentication Code now (e.g. as Entra's Secret "
    "Token); it is shown only once and cannot be read back."
)


# -- models -------------------------------------------------------------------


class OrganisationCreate(BaseModel):
    """A new organisation (the Prompt side of the manual procedure)."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(
        description="Lowercase letters, digits and hyphens, 2-63 characters.",
        examples=["acme"],
    )
    display_name: str = Field(examples=["Acme Health"])
    tenant_id: str | None = Field(default=None, description="Entra tenant id.")
    sso_enabled: bool = Field(default=True, description="Azure SSO enabled.")
    provisioning_enabled: bool = Field(
        default=True, description="Automated user provisioning enabled."
    )
    default_department: str | None = Field(
        default=None, description="Department new users land in."
    )
    default_section: str | None = Field(
        default=None, description="Section new users land in."
    )


class OrganisationUpdate(BaseModel):
    """Fields to change; absent fields stay as they are, null clears optional ones."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = None
    tenant_id: str | None = None
    sso_enabled: bool | None = None
    provisioning_enabled: bool | None = None
    default_department: str | None = None
    default_section: str | None = None


class OrganisationOut(BaseModel):
    """An organisation as stored."""

    slug: str
    display_name: str
    tenant_id: str | None
    sso_enabled: bool
    provisioning_enabled: bool
    default_department: str | None
    default_section: str | None
    created: datetime
    updated: datetime

    @classmethod
    def of(cls, org: Organisation) -> OrganisationOut:
        """Convert a store record."""
        return cls(
            slug=org.slug,
            display_name=org.display_name,
            tenant_id=org.tenant_id,
            sso_enabled=org.sso_enabled,
            provisioning_enabled=org.provisioning_enabled,
            default_department=org.default_department,
            default_section=org.default_section,
            created=org.created,
            updated=org.updated,
        )


class TokenIssue(BaseModel):
    """Options of a new Provisioning Authentication Code."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, examples=["entra-2026-12"])


class TokenOut(BaseModel):
    """A Provisioning Authentication Code without its secret."""

    id: str = Field(examples=["tok_3f9a2c1b"])
    organisation_slug: str
    label: str | None
    created: datetime
    last_used: datetime | None
    revoked: datetime | None

    @classmethod
    def of(cls, info: TokenInfo) -> TokenOut:
        """Convert a store record."""
        return cls(
            id=info.id,
            organisation_slug=info.organisation_slug,
            label=info.label,
            created=info.created,
            last_used=info.last_used,
            revoked=info.revoked,
        )


class IssuedTokenOut(BaseModel):
    """A freshly issued code: `secret` appears in this answer only."""

    token: TokenOut
    secret: str = Field(description="The bearer secret; shown once, stored hashed.")
    warning: str = SECRET_WARNING


class TokenVerify(BaseModel):
    """A secret to check against an organisation."""

    model_config = ConfigDict(extra="forbid")

    token: str


class TokenVerifyResult(BaseModel):
    """Whether the secret is a live code of that organisation."""

    valid: bool
    token_id: str | None


class AuditEventOut(BaseModel):
    """One audit trail entry: who (actor, token, request id), what, when."""

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

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        """Convert a store record."""
        return cls(**{name: getattr(event, name) for name in cls.model_fields})


class AuditPage(BaseModel):
    """Newest events first; pass `next_before_id` as `before_id` for the next page."""

    events: list[AuditEventOut]
    next_before_id: int | None


# -- dependencies -------------------------------------------------------------


def get_store(request: Request) -> Store:
    """Return the app's Store."""
    store: Store = request.app.state.store
    return store


# Declares the scheme in the OpenAPI document; the key is checked below, so a
# missing header gets the same answer as a wrong key.
_ADMIN_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="AdminKey",
    description=f"The service's admin key ({ADMIN_KEY_ENV}) as a bearer token.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_ADMIN_BEARER)]


def admin_key_refusal(
    settings: Settings, authorization: str | None
) -> tuple[int, str, dict[str, str] | None] | None:
    """Return (status, detail, headers) refusing the Authorization header, or None.

    Shared by `require_admin` and the ASGI guard that runs before a body is read.
    """
    if not settings.admin_key:
        return (
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"The admin API is disabled: set {ADMIN_KEY_ENV} in the service's "
            "environment and restart it.",
            None,
        )

    scheme, _, presented = (authorization or "").partition(" ")
    presented = presented.strip() if scheme.lower() == "bearer" else ""
    if not hmac.compare_digest(presented.encode(), settings.admin_key.encode()):
        return (
            status.HTTP_401_UNAUTHORIZED,
            "Missing or wrong admin key: send 'Authorization: Bearer <admin key>'.",
            {"WWW-Authenticate": "Bearer"},
        )
    return None


def require_admin(request: Request, _credentials: Credentials) -> Actor:
    """Check the admin key; return the actor recorded in audit events."""
    settings: Settings = request.app.state.settings
    refusal = admin_key_refusal(settings, request.headers.get("authorization"))
    if refusal is not None:
        code, detail, headers = refusal
        raise HTTPException(code, detail, headers=headers)
    return Actor(kind="admin", request_id=request_info(request.scope).request_id)


StoreDep = Annotated[Store, Depends(get_store)]
AdminDep = Annotated[Actor, Depends(require_admin)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Events per page.")]
# Event ids are 64-bit; a larger number would fail in the database driver.
BeforeId = Annotated[
    int | None,
    Query(ge=1, le=2**63 - 1, description="Only events older than this id (paging)."),
]

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    responses={
        401: {"description": "Missing or wrong admin key."},
        503: {
            "description": (
                f"The admin API is disabled ({ADMIN_KEY_ENV} unset) or the "
                "database is unavailable; retry later."
            )
        },
    },
)


# -- organisations ------------------------------------------------------------


@router.get("/organisations", summary="List organisations")
def list_organisations(store: StoreDep, _: AdminDep) -> list[OrganisationOut]:
    """Every organisation, by slug."""
    return [OrganisationOut.of(org) for org in store.list_organisations()]


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    summary="Create an organisation",
    responses={409: {"description": "The slug is taken."}},
)
def create_organisation(
    body: OrganisationCreate,
    store: StoreDep,
    actor: AdminDep,
) -> OrganisationOut:
    """Create an organisation with its SSO/provisioning flags and defaults."""
    org = store.create_organisation(**body.model_dump(), actor=actor)
    return OrganisationOut.of(org)


@router.get(
    "/organisations/{slug}",
    summary="Show an organisation",
    responses={404: {"description": "No such organisation."}},
)
def get_organisation(slug: str, store: StoreDep, _: AdminDep) -> OrganisationOut:
    """One organisation."""
    return OrganisationOut.of(store.get_organisation(slug))


@router.patch(
    "/organisations/{slug}",
    summary="Update an organisation",
    responses={404: {"description": "No such organisation."}},
)
def update_organisation(
    slug: str,
    body: OrganisationUpdate,
    store: StoreDep,
    actor: AdminDep,
) -> OrganisationOut:
    """Change the fields present in the body; display_name cannot be null."""
    changes = body.model_dump(exclude_unset=True)
    for required in ("display_name", "sso_enabled", "provisioning_enabled"):
        if required in changes and changes[required] is None:
            raise HTTPException(422, f"{required} cannot be null.")
    return OrganisationOut.of(store.update_organisation(slug, actor=actor, **changes))


# -- tokens -------------------------------------------------------------------


@router.get("/organisations/{slug}/tokens", summary="List tokens (never secrets)")
def list_tokens(slug: str, store: StoreDep, _: AdminDep) -> list[TokenOut]:
    """The organisation's Provisioning Authentication Codes, revoked ones included."""
    store.get_organisation(slug)
    return [TokenOut.of(info) for info in store.list_tokens(slug)]


@router.post(
    "/organisations/{slug}/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a token (secret shown once)",
)
def issue_token(
    slug: str,
    store: StoreDep,
    actor: AdminDep,
    body: TokenIssue | None = None,
) -> IssuedTokenOut:
    """Issue a new code; older codes stay valid until revoked (rotation overlap)."""
    issued = store.issue_token(slug, actor=actor, label=body.label if body else None)
    return IssuedTokenOut(token=TokenOut.of(issued.info), secret=issued.secret)


@router.delete(
    "/organisations/{slug}/tokens/{token_id}",
    summary="Revoke a token",
    responses={404: {"description": "No such organisation or token."}},
)
def revoke_token(
    slug: str,
    token_id: str,
    store: StoreDep,
    actor: AdminDep,
) -> TokenOut:
    """Revoke a code; SCIM requests with it get 401 from now on."""
    return TokenOut.of(store.revoke_token(slug, token_id, actor=actor))


@router.post(
    "/organisations/{slug}/tokens/verify",
    summary="Check whether a secret is a live token of the organisation",
)
def verify_token(
    slug: str,
    body: TokenVerify,
    store: StoreDep,
    _: AdminDep,
) -> TokenVerifyResult:
    """Lets the provisioning engine detect a stale secret without calling SCIM."""
    store.get_organisation(slug)
    found = store.authenticate(body.token, record_use=False) if body.token else None
    if found is None or found[0].slug != slug:
        return TokenVerifyResult(valid=False, token_id=None)
    store.record_use(found[1])
    return TokenVerifyResult(valid=True, token_id=found[1].id)


# -- audit --------------------------------------------------------------------


@router.get("/organisations/{slug}/audit", summary="Audit trail of an organisation")
def organisation_audit(
    slug: str,
    store: StoreDep,
    _: AdminDep,
    resource_id: str | None = None,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> AuditPage:
    """Changes to the organisation, its tokens and its resources, newest first."""
    store.get_organisation(slug)
    events = store.audit_events(
        slug, resource_id=resource_id, limit=limit, before_id=before_id
    )
    return _page(events, limit)


@router.get("/audit", summary="Audit trail of every organisation")
def audit(
    store: StoreDep,
    _: AdminDep,
    organisation: str | None = None,
    resource_id: str | None = None,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> AuditPage:
    """Every change, newest first, optionally of one organisation or resource."""
    events = store.audit_events(
        organisation, resource_id=resource_id, limit=limit, before_id=before_id
    )
    return _page(events, limit)


def _page(events: list[AuditEvent], limit: int) -> AuditPage:
    next_id = events[-1].id if len(events) == limit else None
    return AuditPage(
        events=[AuditEventOut.of(e) for e in events], next_before_id=next_id
    )
