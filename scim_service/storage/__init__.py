"""Storage of the SCIM service: organisations, tokens, resources and audit trail.

SQLAlchemy 2 Core on SQLite (WAL) or PostgreSQL, schema managed by Alembic.
"""

from scim_service.storage.records import (
    PROMPT_EXTENSION,
    Actor,
    AuditEvent,
    IssuedToken,
    Organisation,
    StoredResource,
    TokenInfo,
)
from scim_service.storage.store import Store

__all__ = [
    "PROMPT_EXTENSION",
    "Actor",
    "AuditEvent",
    "IssuedToken",
    "Organisation",
    "Store",
    "StoredResource",
    "TokenInfo",
]
