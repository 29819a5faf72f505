"""The SCIM service under uvicorn on loopback, on a real database, for tests."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from scim_service.api.app import create_app
from scim_service.settings import Settings
from scim_service.storage import Actor, Organisation, Store

ADMIN_KEY = "adm_" + "k" * 40
SCIM_JSON = "application/scim+json"
TEST_ACTOR = Actor(kind="cli")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Loopback HTTP only; one TLS context for every client (building one per client
# costs ~50 ms).
_TLS = ssl.create_default_context()
_STOPPING: list[threading.Thread] = []


def join_stopped_servers() -> None:
    """Wait for every server a test has stopped to finish shutting down."""
    while _STOPPING:
        _STOPPING.pop().join(10)


class ServerThread:
    """uvicorn serving an ASGI app in a background thread of the test process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        # uvicorn needs ~0.2 s to notice and finish; let it do so while the next
        # test runs, and join every server once at the end of the session.
        self.server.should_exit = True
        _STOPPING.append(self.thread)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Service:
    """A running service and direct access to its store."""

    url: str
    store: Store
    settings: Settings

    @property
    def scim(self) -> str:
        return f"{self.url}/scim/v2"

    def organisation(self, slug: str = "acme", **fields: Any) -> Organisation:
        fields.setdefault("display_name", slug.title())
        return self.store.create_organisation(slug=slug, actor=TEST_ACTOR, **fields)

    def token(self, slug: str = "acme") -> str:
        return self.store.issue_token(slug, actor=TEST_ACTOR).secret

    def client(self, token: str | None, *, org_path: str | None = None) -> httpx.Client:
        base = f"{self.scim}/{org_path}" if org_path else self.scim
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=base, headers=headers, timeout=10, verify=_TLS)

    def admin(self, key: str | None = ADMIN_KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, verify=_TLS)


def start_service(
    database_url: str,
    *,
    admin_key: str | None = ADMIN_KEY,
    migrate: bool = True,
    **settings: Any,
) -> Iterator[Service]:
    """Migrate the database, serve the app on a free port, yield, stop."""
    config = Settings(database_url=database_url, admin_key=admin_key, **settings)
    store = Store.open(database_url)
    if migrate:
        store.migrate()
    try:
        with ServerThread(create_app(config, store=store)) as server:
            yield Service(server.url, store, config)
    finally:
        store.close()
