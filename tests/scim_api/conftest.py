"""Fixtures: the SCIM service on loopback over SQLite (and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scim_api._server import Service, start_service


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'scim.db'}"


@pytest.fixture
def service(sqlite_url: str) -> Iterator[Service]:
    """The service on a fresh SQLite file."""
    yield from start_service(sqlite_url)


@pytest.fixture
def any_db_service(database_url: str) -> Iterator[Service]:
    """The service on SQLite and on PostgreSQL (the shared `database_url` fixture)."""
    yield from start_service(database_url)


@pytest.fixture
def acme(service: Service) -> Iterator[httpx.Client]:
    """A SCIM client of organisation 'acme' (defaults Nursing / Ward 3)."""
    service.organisation("acme", default_department="Nursing", default_section="Ward 3")
    with service.client(service.token("acme")) as client:
        yield client
