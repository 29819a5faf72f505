"""Helpers of the engine tests: loopback servers, the emulator seed, fast timings.

A uniquely named module (not conftest), so test files import from it without
picking up another suite's conftest.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


def self_signed(folder: Path, *ips: str) -> tuple[Path, Path]:
    """Write a one-hour CA certificate for `ips` and its key; return both paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ips[0])])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread.

    With `tls` (certificate and key files) it serves https.
    """

    def __init__(self, app: Any, *, tls: tuple[Path, Path] | None = None) -> None:
        self.port = free_port()
        self.scheme = "https" if tls else "http"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

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
