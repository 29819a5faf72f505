"""Helpers of the engine tests: loopback servers, the emulator seed, fast timings.

A uniquely named module (not conftest), so test files import from it without
picking up another suite's conftest.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from provisioning.entra import Timings
from scim_service.storage import Store

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "admin-key-for-tests-0123456789"

# Entra's replication waits shortened: the emulator replicates at once unless a
# fault says otherwise.
FAST = Timings(
    attempts=8, first_delay=0.05, max_delay=0.3, visible_reads=1, read_interval=0.01
)

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


@dataclass
class Graph:
    """The Entra emulator on loopback: its Python handle and Graph base URL."""

    emulator: Any
    url: str


def example_for(tmp_path: Path, prompt_service: PromptService) -> Path:
    """organisations/example.yaml pointed at the SCIM service on loopback."""
    text = (ROOT / "organisations" / "example.yaml").read_text()
    path = tmp_path / "example.yaml"
    path.write_text(text.replace("https://prompt.example.com", prompt_service.url))
    return path


def run_cli(graph: Graph, *args: str) -> int:
    """Run prompt-provision in-process against the emulator (anonymous Graph)."""
    from provisioning.cli import main

    base = ["--graph-url", graph.url, "--credential", "anonymous"]
    return main([*base, *args], timings=FAST)
