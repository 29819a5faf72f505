"""Audit trail: one row per change, written in the transaction of the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from scim_service.storage.records import Actor, AuditEvent
from scim_service.storage.tables import audit_events, organisations


def record(
    conn: sa.Connection,
    *,
    organisation_id: int,
    at: datetime,
    actor: Actor,
    action: str,
    resource_type: str | None = None,
    resource_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Insert one audit event; callers pass documents, never a token secret."""
    conn.execute(
        audit_events.insert().values(
            organisation_id=organisation_id,
            at=at,
            actor_kind=actor.kind,
            token_id=actor.token_id,
            request_id=actor.request_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            before=before,
            after=after,
        )
    )


def read(
    conn: sa.Connection,
    *,
    organisation_id: int | None,
    resource_id: str | None,
    limit: int,
    before_id: int | None,
) -> list[AuditEvent]:
    """Return events newest first, optionally of one organisation or resource."""
    query = (
        sa.select(audit_events, organisations.c.slug)
        .join(organisations, organisations.c.id == audit_events.c.organisation_id)
        .order_by(audit_events.c.id.desc())
        .limit(limit)
    )
    if organisation_id is not None:
        query = query.where(audit_events.c.organisation_id == organisation_id)
    if resource_id is not None:
        query = query.where(audit_events.c.resource_id == resource_id)
    if before_id is not None:
        query = query.where(audit_events.c.id < before_id)
    return [
        AuditEvent(
            id=row.id,
            organisation_slug=row.slug,
            at=row.at,
            actor_kind=row.actor_kind,
            token_id=row.token_id,
            request_id=row.request_id,
            action=row.action,
            resource_type=row.resource_type,
            resource_id=row.resource_id,
            before=row.before,
            after=row.after,
        )
        for row in conn.execute(query)
    ]
