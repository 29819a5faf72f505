"""Alembic migrations of the SCIM store; run through `Store.migrate()`."""
