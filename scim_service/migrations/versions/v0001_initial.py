"""Initial schema: organisations, tokens, resources, audit_events.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scim_service.storage.tables import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIVE_USER = sa.text("archived_at IS NULL AND resource_type = 'User'")


def upgrade() -> None:
    """Create the four tables and their indexes."""
    op.create_table(
        "organisations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("sso_enabled", sa.Boolean, nullable=False),
        sa.Column("provisioning_enabled", sa.Boolean, nullable=False),
        sa.Column("default_department", sa.Text, nullable=True),
        sa.Column("default_section", sa.Text, nullable=True),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("updated", UtcDateTime, nullable=False),
        sa.UniqueConstraint("slug", name="uq_organisations_slug"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column(
            "organisation_id", BigId, sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("last_used", UtcDateTime, nullable=True),
        sa.Column("revoked", UtcDateTime, nullable=True),
        sa.UniqueConstraint("secret_sha256", name="uq_tokens_secret_sha256"),
    )
    op.create_index("ix_tokens_organisation_id", "tokens", ["organisation_id"])
    _create_resources()
    _create_audit_events()


def _create_resources() -> None:
    op.create_table(
        "resources",
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
    )
    lookups = {
        "ux_resources_org_type_id": "id",
        "ix_resources_org_type_user_name": "user_name_lower",
        "ix_resources_org_type_external_id": "external_id",
        "ix_resources_org_type_display_name": "display_name_lower",
    }
    for name, column in lookups.items():
        op.create_index(
            name,
            "resources",
            ["organisation_id", "resource_type", column],
            unique=name.startswith("ux_"),
        )
    # Live rows in creation order (archived_at IS NULL is an index equality), so
    # list pages need no sort and counts read only this index.
    op.create_index(
        "ix_resources_org_type_live_seq",
        "resources",
        ["organisation_id", "resource_type", "archived_at", "seq"],
    )
    # Only live Users are unique: archived ones wait to be re-attached.
    for name, column in (
        ("ux_resources_live_user_name", "user_name_lower"),
        ("ux_resources_live_external_id", "external_id"),
    ):
        op.create_index(
            name,
            "resources",
            ["organisation_id", column],
            unique=True,
            sqlite_where=LIVE_USER,
            postgresql_where=LIVE_USER,
        )


def _create_audit_events() -> None:
    op.create_table(
        "audit_events",
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
    )
    op.create_index("ix_audit_events_org_id", "audit_events", ["organisation_id", "id"])
    op.create_index(
        "ix_audit_events_resource_id", "audit_events", ["resource_id", "id"]
    )


def downgrade() -> None:
    """Drop everything (only for development databases)."""
    for table in ("audit_events", "resources", "tokens", "organisations"):
        op.drop_table(table)
