"""SCIM resources (Users, Groups) in one table, with archive and re-attach.

Uniqueness of live Users' userName (case-insensitive) and externalId (exact) is
enforced by partial unique indexes, so concurrent identical creates yield one row.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from scim_service.storage import _audit
from scim_service.storage.records import PROMPT_EXTENSION, Actor, StoredResource
from scim_service.storage.tables import resources

USER = "User"
# Every resource id is uuid4().hex (new_resource_id); a path segment of any other
# shape names nothing, so it is answered without a query (and a NUL in it never
# reaches PostgreSQL, which refuses it).
_RESOURCE_ID = re.compile(r"[0-9a-f]{32}")


def new_resource_id() -> str:
    """Return a new resource id: 32 lowercase hex digits."""
    return uuid.uuid4().hex


def is_resource_id(text: str) -> bool:
    """Tell whether `text` has the shape of an id this store hands out."""
    return _RESOURCE_ID.fullmatch(text) is not None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _lower(value: object) -> str | None:
    # RFC 7643 section 4.1.1: userName is caseExact false; so is our displayName.
    return value.lower() if isinstance(value, str) else None


def indexed_values(doc: Mapping[str, Any]) -> dict[str, str | None]:
    """Return the denormalised columns looked up by filters and uniqueness."""
    return {
        "user_name": _text(doc.get("userName")),
        "user_name_lower": _lower(doc.get("userName")),
        "external_id": _text(doc.get("externalId")),
        "display_name_lower": _lower(doc.get("displayName")),
    }


def resource_from_row(row: sa.Row[Any]) -> StoredResource:
    """Build a StoredResource from a row of the resources table."""
    return StoredResource(
        id=row.id,
        resource_type=row.resource_type,
        doc=row.doc,
        created=row.created,
        last_modified=row.last_modified,
        version=row.version,
    )


def live(org_id: int, rtype: str) -> sa.ColumnElement[bool]:
    """Condition selecting the organisation's live resources of one type."""
    return sa.and_(
        resources.c.organisation_id == org_id,
        resources.c.resource_type == rtype,
        resources.c.archived_at.is_(None),
    )


def select_live(
    org_id: int,
    rtype: str,
    *,
    id: str | None = None,
    user_name: str | None = None,
    external_id: str | None = None,
    display_name: str | None = None,
) -> sa.Select[Any]:
    """Return the indexed query for live resources matching every given term."""
    query = sa.select(resources).where(live(org_id, rtype)).order_by(resources.c.seq)
    if id is not None:
        query = query.where(resources.c.id == id)
    if user_name is not None:
        query = query.where(resources.c.user_name_lower == user_name.lower())
    if external_id is not None:
        query = query.where(resources.c.external_id == external_id)
    if display_name is not None:
        query = query.where(resources.c.display_name_lower == display_name.lower())
    return query


def _archived_match(
    conn: sa.Connection, org_id: int, doc: Mapping[str, Any]
) -> sa.Row[Any] | None:
    """Find the archived User `doc` re-attaches to: by externalId, then userName."""
    values = indexed_values(doc)
    archived = sa.and_(
        resources.c.organisation_id == org_id,
        resources.c.resource_type == USER,
        resources.c.archived_at.is_not(None),
    )
    newest = (resources.c.archived_at.desc(), resources.c.seq.desc())
    for column in ("external_id", "user_name_lower"):
        if values[column] is None:
            continue
        row = conn.execute(
            sa.select(resources)
            .where(archived, resources.c[column] == values[column])
            .order_by(*newest)
            .limit(1)
        ).first()
        if row is not None:
            return row
    return None


def keep_prompt_values(
    doc: dict[str, Any],
    previous: Mapping[str, Any] | None,
    defaults: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Fill Prompt extension values absent from `doc` from `previous`, then defaults."""
    given = doc.get(PROMPT_EXTENSION)
    merged: dict[str, Any] = dict(defaults or {})
    if previous is not None and isinstance(previous.get(PROMPT_EXTENSION), dict):
        merged.update(previous[PROMPT_EXTENSION])
    if isinstance(given, dict):
        merged.update(given)
    merged = {key: value for key, value in merged.items() if value is not None}
    if merged:
        doc[PROMPT_EXTENSION] = merged
    return doc


def create(
    conn: sa.Connection,
    org_id: int,
    rtype: str,
    doc: dict[str, Any],
    *,
    actor: Actor,
    now: datetime,
    prompt_defaults: Mapping[str, Any] | None,
) -> tuple[StoredResource, bool]:
    """Insert a resource or re-attach the archived User it matches."""
    previous = _archived_match(conn, org_id, doc) if rtype == USER else None
    if rtype == USER:
        doc = keep_prompt_values(
            doc, previous.doc if previous else None, prompt_defaults
        )

    if previous is not None:
        reattached = _reattach(conn, previous, doc, now=now)
        if reattached is not None:
            _audit.record(
                conn,
                organisation_id=org_id,
                at=now,
                actor=actor,
                action="resource.reattach",
                resource_type=rtype,
                resource_id=reattached.id,
                before=previous.doc,
                after=reattached.doc,
            )
            return reattached, True

    rid = new_resource_id()
    conn.execute(
        resources.insert().values(
            id=rid,
            organisation_id=org_id,
            resource_type=rtype,
            doc=doc,
            created=now,
            last_modified=now,
            version=1,
            **indexed_values(doc),
        )
    )
    _audit.record(
        conn,
        organisation_id=org_id,
        at=now,
        actor=actor,
        action="resource.create",
        resource_type=rtype,
        resource_id=rid,
        after=doc,
    )
    stored = StoredResource(rid, rtype, copy.deepcopy(doc), now, now, 1)
    return stored, False


def _reattach(
    conn: sa.Connection, previous: sa.Row[Any], doc: dict[str, Any], *, now: datetime
) -> StoredResource | None:
    # Only the transaction that flips archived_at re-attaches; a concurrent twin
    # sees rowcount 0 and falls through to the insert, which the unique index stops.
    version = previous.version + 1
    result = conn.execute(
        resources.update()
        .where(resources.c.seq == previous.seq, resources.c.archived_at.is_not(None))
        .values(
            doc=doc,
            archived_at=None,
            last_modified=now,
            version=version,
            **indexed_values(doc),
        )
    )
    if result.rowcount != 1:
        return None
    return StoredResource(
        previous.id,
        previous.resource_type,
        copy.deepcopy(doc),
        previous.created,
        now,
        version,
    )


def write_update(
    conn: sa.Connection, row: sa.Row[Any], doc: dict[str, Any], *, now: datetime
) -> StoredResource | None:
    """Write `doc` over `row` if its version is unchanged; None when it moved."""
    version = row.version + 1
    result = conn.execute(
        resources.update()
        .where(
            resources.c.seq == row.seq,
            resources.c.version == row.version,
            resources.c.archived_at.is_(None),
        )
        .values(doc=doc, last_modified=now, version=version, **indexed_values(doc))
    )
    if result.rowcount != 1:
        return None
    return StoredResource(
        row.id, row.resource_type, copy.deepcopy(doc), row.created, now, version
    )


def conflicting_attribute(
    conn: sa.Connection, org_id: int, doc: Mapping[str, Any], exclude_id: str | None
) -> str | None:
    """Name the attribute a live User other than `exclude_id` already holds."""
    values = indexed_values(doc)
    for column, attribute in (
        ("user_name_lower", "userName"),
        ("external_id", "externalId"),
    ):
        if values[column] is None:
            continue
        query = sa.select(resources.c.id).where(
            live(org_id, USER), resources.c[column] == values[column]
        )
        if exclude_id is not None:
            query = query.where(resources.c.id != exclude_id)
        if conn.execute(query.limit(1)).first() is not None:
            return attribute
    return None
