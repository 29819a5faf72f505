"""Fixtures: the SCIM service on loopback over SQLite (and PostgreSQL)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scim_service.storage import Store
from tests.scim_api._server import Service, join_stopped_servers, start_service


@pytest.fixture(scope="session", autouse=True)
def _servers_joined() -> Iterator[None]:
    """Join the background servers the tests stopped, once, at the end."""
    yield
    join_stopped_servers()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session, copied by each test (fast)."""
    path = tmp_path_factory.mktemp("template") / "scim.db"
    store = Store.open(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A migrated SQLite file of its own in the test's temporary directory."""
    shutil.copyfile(migrated_sqlite, tmp_path / "scim.db")
    return f"sqlite:///{tmp_path / 'scim.db'}"


@pytest.fixture
def service(sqlite_url: str) -> Iterator[Service]:
    """The service on a fresh SQLite file."""
    yield from start_service(sqlite_url, migrate=False)


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
