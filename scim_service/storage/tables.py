"""Table definitions of the SCIM store (SQLAlchemy Core), mirrored by the migrations.

Datetimes are stored in UTC and always come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()

# SQLite only aliases the rowid (cheap autoincrement) for a column typed INTEGER.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A datetime stored as UTC; SQLite drops the zone, so it is put back on read."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=True),
    sa.Column("sso_enabled", sa.Boolean, nullable=False),
    sa.Column("provisioning_enabled", sa.Boolean, nullable=False),
    sa.Column("default_department", sa.Text, nullable=True),
    sa.Column("default_section", sa.Text, nullable=True),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Column("updated", UtcDateTime, nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column(
        "organisation_id",
        BigId,
        sa.ForeignKey("organisations.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.Text, nullable=True),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Column("last_used", UtcDateTime, nullable=True),
    sa.Column("revoked", UtcDateTime, nullable=True),
)

# Only live Users must be unique; archived ones wait to be re-attached.
_LIVE_USER = sa.text("archived_at IS NULL AND resource_type = 'User'")

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column(
        "organisation_id", BigId, sa.ForeignKey("organisations.id"), nullable=False
    ),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("doc", sa.JSON, nullable=False),
    sa.Column("user_name", sa.Text, nullable=True),
    sa.Column("user_name_lower", sa.Text, nullable=True),
    sa.Column("external_id", sa.Text, nullable=True),
    sa.Column("display_name_lower", sa.Text, nullable=True),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Column("last_modified", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("archived_at", UtcDateTime, nullable=True),
    sa.Index(
        "ux_resources_org_type_id",
        "organisation_id",
        "resource_type",
        "id",
        unique=True,
    ),
    # Live rows in creation order (archived_at IS NULL is an index equality), so
    # list pages need no sort and counts read only this index.
    sa.Index(
        "ix_resources_org_type_live_seq",
        "organisation_id",
        "resource_type",
        "archived_at",
        "seq",
    ),
    sa.Index(
        "ix_resources_org_type_user_name",
        "organisation_id",
        "resource_type",
        "user_name_lower",
    ),
    sa.Index(
        "ix_resources_org_type_external_id",
        "organisation_id",
        "resource_type",
        "external_id",
    ),
    sa.Index(
        "ix_resources_org_type_display_name",
        "organisation_id",
        "resource_type",
        "display_name_lower",
    ),
    sa.Index(
        "ux_resources_live_user_name",
        "organisation_id",
        "user_name_lower",
        unique=True,
        sqlite_where=_LIVE_USER,
        postgresql_where=_LIVE_USER,
    ),
    sa.Index(
        "ux_resources_live_external_id",
        "organisation_id",
        "external_id",
        unique=True,
        sqlite_where=_LIVE_USER,
        postgresql_where=_LIVE_USER,
    ),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "organisation_id", BigId, sa.ForeignKey("organisations.id"), nullable=False
    ),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor_kind", sa.String(16), nullable=False),
    sa.Column("token_id", sa.String(16), nullable=True),
    sa.Column("request_id", sa.Text, nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("resource_type", sa.String(32), nullable=True),
    sa.Column("resource_id", sa.String(32), nullable=True),
    sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
    sa.Index("ix_audit_events_org_id", "organisation_id", "id"),
    sa.Index("ix_audit_events_resource_id", "resource_id", "id"),
)
