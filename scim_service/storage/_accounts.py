"""Organisations and their Provisioning Authentication Codes (bearer tokens)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from scim_service.errors import OrganisationInvalid, OrganisationNotFound
from scim_service.protocol.endpoints import ENDPOINTS
from scim_service.storage.records import Organisation, TokenInfo
from scim_service.storage.tables import organisations

# Recognisable prefix, so a leaked code is easy to spot by secret scanners.
TOKEN_PREFIX = "pscim_"

# The slug appears as /scim/v2/{org}/, so it must not be a word the router reads
# as an endpoint; derived from the router's own table so the two cannot drift.
RESERVED_SLUGS = frozenset(ENDPOINTS)
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]")
_TOKEN_ID = re.compile(r"tok_[0-9a-f]{8}")
# PostgreSQL refuses NUL in text and no database takes a lone surrogate.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# An Entra tenant id is a GUID (Entra admin center > Overview > Tenant ID).
_TENANT_ID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# Column sizes of the organisations table (tables.py).
_MAX_LENGTHS = {"tenant_id": 64}

# Fields update_organisation accepts, with the types they must have.
ORGANISATION_FIELDS: dict[str, tuple[type, bool]] = {
    "display_name": (str, False),
    "tenant_id": (str, True),
    "sso_enabled": (bool, False),
    "provisioning_enabled": (bool, False),
    "default_department": (str, True),
    "default_section": (str, True),
}


def validate_slug(slug: object) -> str:
    """Return `slug` if it can name an organisation, else raise OrganisationInvalid."""
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise OrganisationInvalid(
            f"Organisation slug {slug!r} is invalid: use 2-63 lowercase letters, "
            "digits and hyphens, starting and ending with a letter or digit."
        )
    if slug in RESERVED_SLUGS:
        raise OrganisationInvalid(
            f"Organisation slug {slug!r} is a SCIM endpoint name and cannot name an "
            "organisation; choose another slug."
        )
    return slug


def validate_changes(changes: dict[str, Any]) -> None:
    """Raise OrganisationInvalid for an unknown field or a value of the wrong type."""
    for name, value in changes.items():
        if name not in ORGANISATION_FIELDS:
            allowed = ", ".join(sorted(ORGANISATION_FIELDS))
            raise OrganisationInvalid(
                f"Organisation field {name!r} cannot be set; "
                f"settable fields: {allowed}."
            )
        kind, nullable = ORGANISATION_FIELDS[name]
        if value is None and nullable:
            continue
        if not isinstance(value, kind) or (
            isinstance(value, str) and not value.strip()
        ):
            raise OrganisationInvalid(
                f"Organisation field {name!r} must be a non-empty {kind.__name__}"
                + (" or null" if nullable else "")
                + f", not {value!r}."
            )
        if isinstance(value, str):
            validate_text(name, value, max_length=_MAX_LENGTHS.get(name))
        if name == "tenant_id" and isinstance(value, str):
            validate_tenant_id(value)


def validate_tenant_id(value: str) -> None:
    """Raise OrganisationInvalid unless `value` has the shape of an Entra tenant id."""
    if not _TENANT_ID.fullmatch(value):
        raise OrganisationInvalid(
            f"Tenant id {value!r} is not a GUID such as "
            "11111111-2222-3333-4444-555555555555; copy it from the Entra admin "
            "center (Overview > Tenant ID)."
        )


def validate_text(name: str, value: str, *, max_length: int | None = None) -> None:
    """Raise OrganisationInvalid for text the database cannot store as given."""
    if _UNSTORABLE.search(value):
        raise OrganisationInvalid(
            f"Field {name!r} holds a NUL character or a lone surrogate, which "
            "cannot be stored; remove it."
        )
    if max_length is not None and len(value) > max_length:
        raise OrganisationInvalid(
            f"Field {name!r} is {len(value)} characters long; at most "
            f"{max_length} are stored."
        )


def organisation_from_row(row: sa.Row[Any]) -> Organisation:
    """Build an Organisation from a row of the organisations table."""
    return Organisation(
        id=row.id,
        slug=row.slug,
        display_name=row.display_name,
        tenant_id=row.tenant_id,
        sso_enabled=row.sso_enabled,
        provisioning_enabled=row.provisioning_enabled,
        default_department=row.default_department,
        default_section=row.default_section,
        created=row.created,
        updated=row.updated,
    )


def organisation_audit(org: Organisation) -> dict[str, Any]:
    """Document of an organisation for the audit trail (JSON-safe)."""
    doc = asdict(org)
    for key in ("created", "updated"):
        doc[key] = doc[key].isoformat()
    return doc


def load_organisation(conn: sa.Connection, slug: str) -> Organisation:
    """Return the organisation with that slug, or raise OrganisationNotFound."""
    # A text no slug can be names nothing: answered without a query, so a NUL
    # in it never reaches PostgreSQL.
    row = None
    if _SLUG.fullmatch(slug):
        row = conn.execute(
            sa.select(organisations).where(organisations.c.slug == slug)
        ).first()
    if row is None:
        raise OrganisationNotFound(
            f"No organisation has the slug {slug!r}; list them with "
            "`prompt-scim org list` or create it first."
        )
    return organisation_from_row(row)


def new_secret() -> tuple[str, str]:
    """Return a new token secret (256 random bits) and its SHA-256 hex digest."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex digest a secret is stored and looked up as."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def is_token_id(text: str) -> bool:
    """Tell whether `text` has the shape of a token id (tok_ and 8 hex digits)."""
    return _TOKEN_ID.fullmatch(text) is not None


def new_token_id() -> str:
    """Return a public token id such as tok_3f9a2c1b."""
    return "tok_" + secrets.token_hex(4)


def token_from_row(row: sa.Row[Any], slug: str) -> TokenInfo:
    """Build a TokenInfo from a row of the tokens table."""
    return TokenInfo(
        id=row.id,
        organisation_slug=slug,
        label=row.label,
        created=row.created,
        last_used=row.last_used,
        revoked=row.revoked,
    )


def token_audit(info: TokenInfo) -> dict[str, Any]:
    """Document of a token for the audit trail: id, label and dates, no secret."""
    return {
        "id": info.id,
        "label": info.label,
        "created": info.created.isoformat(),
        "revoked": info.revoked.isoformat() if info.revoked else None,
    }


def is_recent(last_used: datetime | None, now: datetime, seconds: float) -> bool:
    """Tell whether last_used lies less than `seconds` before now."""
    return last_used is not None and (now - last_used).total_seconds() < seconds
