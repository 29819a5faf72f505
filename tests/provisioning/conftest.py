"""Fixtures of the engine tests: the SCIM service and the Entra emulator on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scim_service.api.app import create_app
from scim_service.settings import Settings
from scim_service.storage import Store

from .engine_support import (
    ADMIN_KEY,
    SEED,
    Graph,
    PromptService,
    ServerThread,
    free_port,
)

# Suites without a package do `from conftest import free_port`; with several
# conftest.py files on sys.path they may get this one, so it offers the same.
__all__ = ["free_port"]


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the newest schema, copied by each test."""
    path = tmp_path_factory.mktemp("template") / "scim.db"
    store = Store.open(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture
def prompt_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_database: Path
) -> Iterator[PromptService]:
    """A migrated SQLite store served on loopback; the admin key set in the env."""
    shutil.copy(migrated_database, tmp_path / "scim.db")
    store = Store.open(f"sqlite:///{tmp_path / 'scim.db'}")
    settings = Settings(
        database_url="sqlite://", admin_key=ADMIN_KEY, log_level="WARNING"
    )
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_KEY", ADMIN_KEY)
    with ServerThread(create_app(settings, store=store)) as server:
        yield PromptService(url=server.url, store=store)
    store.close()


@pytest.fixture
def graph() -> Iterator[Graph]:
    """The Entra emulator serving Graph under /v1.0 on loopback, seeded."""
    from entra_emulator.server import Emulator

    emulator = Emulator(seed=SEED)
    with emulator.serve_in_thread() as base:
        yield Graph(emulator=emulator, url=f"{base}/v1.0")
