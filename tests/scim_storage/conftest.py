"""Fixtures of the store tests: a migrated Store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scim_service.storage import Actor, Organisation, Store

ADMIN = Actor(kind="admin", token_id=None, request_id="req-admin")
SCIM = Actor(kind="scim", token_id="tok_00000000", request_id="req-scim")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on an empty database of its own; closed after the test."""
    opened = Store.open(database_url)
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def org(store: Store) -> Organisation:
    """An organisation 'acme' with default department and section."""
    return store.create_organisation(
        slug="acme",
        display_name="Acme Health",
        default_department="Nursing",
        default_section="Ward 3",
        actor=ADMIN,
    )
