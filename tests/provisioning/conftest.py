"""Real servers on loopback for the engine tests: the SCIM service (admin API)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from scim_service.api.app import create_app
from scim_service.settings import Settings
from scim_service.storage import Store

ADMIN_KEY = "admin-key-for-tests-0123456789"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class PromptService:
    """The bundled SCIM service on loopback, with its store for assertions."""

    url: str
    store: Store

    @property
    def admin_url(self) -> str:
        return f"{self.url}/admin"

    @property
    def scim_url(self) -> str:
        return f"{self.url}/scim/v2"


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


SEED = {
    "users": [
        {
            "userPrincipalName": "alice@example.org",
            "displayName": "Alice Adams",
            "givenName": "Alice",
            "surname": "Adams",
            "mail": "alice@example.org",
        },
        {
            "userPrincipalName": "bob@example.org",
            "displayName": "Bob Brown",
            "givenName": "Bob",
            "surname": "Brown",
            "mail": "bob@example.org",
        },
        {"userPrincipalName": "carol@example.org", "displayName": "Carol Clark"},
    ],
    "groups": [{"displayName": "Prompt Users", "members": ["bob@example.org"]}],
}


@dataclass
class Graph:
    """The Entra emulator on loopback: its Python handle and Graph base URL."""

    emulator: Any
    url: str


@pytest.fixture
def graph() -> Iterator[Graph]:
    """The Entra emulator serving Graph under /v1.0 on loopback, seeded."""
    from entra_emulator.server import Emulator

    emulator = Emulator(seed=SEED)
    with emulator.serve_in_thread() as base:
        yield Graph(emulator=emulator, url=f"{base}/v1.0")
