"""Alembic environment: migrate over the connection `Store.migrate()` hands in."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from scim_service.storage.tables import metadata


def run_migrations_online() -> None:
    """Run migrations on the caller's connection, or on sqlalchemy.url if none."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or use Store.migrate() to migrate")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
