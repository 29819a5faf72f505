"""`prompt-provision --credential ...` gets its Graph token from azure-identity.

A loopback HTTPS server plays the Microsoft identity platform's token endpoint
(AZURE_AUTHORITY_HOST); an ASGI wrapper around the emulator records what Graph is
sent. The CLI runs in its own interpreter so SSL_CERT_FILE is read afresh.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from entra_emulator.app import create_app
from entra_emulator.server import Emulator

from .engine_support import ROOT, SEED, ServerThread, free_port, self_signed

ORG_TENANT = "11111111-2222-3333-4444-555555555555"  # organisations/example.yaml
OTHER_TENANT = "99999999-8888-7777-6666-555555555555"
ACCESS_TOKEN = "eyJ0eXAi.graph-access-token-from-the-fake-authority.c2ln"
CLIENT_SECRET = "automation-client-secret-0123456789"
FEDERATED_JWT = "eyJhbGci.github-oidc-token.c2lnbmF0dXJl"


@dataclass
class Authority:
    """The fake token endpoint: its URL, CA file and the token requests it got."""

    url: str
    ca_file: Path
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    refusing: list[bool] = field(default_factory=list)  # [True]: answer 401


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[Authority]:
    cert_file, key_file = self_signed(tmp_path, "127.0.0.1")
    seen: list[tuple[str, dict[str, list[str]]]] = []
    refusing: list[bool] = []

    class TokenEndpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append((self.path, parse_qs(self.rfile.read(length).decode())))
            answer: dict[str, Any] = {
                "access_token": ACCESS_TOKEN,
                "expires_in": 3600,
                "token_type": "Bearer",
            }
            if refusing:
                answer = {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret.",
                }
            body = json.dumps(answer).encode()
            self.send_response(401 if refusing else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    yield Authority(url, cert_file, seen, refusing)
    server.shutdown()
    server.server_close()


@pytest.fixture
def graph_headers() -> Iterator[tuple[str, list[str]]]:
    """The emulator behind a wrapper that records each Authorization header."""
    emulator = Emulator(seed=SEED)
    inner = create_app(emulator)
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1.0"):
            headers = dict(scope["headers"])
            seen.append(headers.get(b"authorization", b"").decode())
        await inner(scope, receive, send)

    with ServerThread(app) as server:
        yield f"{server.url}/v1.0", seen


CREDENTIALS = {
    "client-secret": {
        "AZURE_CLIENT_ID": "automation-app",
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
    },
    "workload-identity": {
        "AZURE_CLIENT_ID": "automation-app",
        "AZURE_FEDERATED_TOKEN_FILE": "federated-token",
    },
    # DefaultAzureCredential: its first link, EnvironmentCredential, takes these.
    "default": {
        "AZURE_CLIENT_ID": "automation-app",
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
    },
}


@pytest.mark.parametrize("kind", list(CREDENTIALS))
def test_token_is_for_the_organisation_tenant_and_reaches_graph_only(
    kind: str,
    authority: Authority,
    graph_headers: tuple[str, list[str]],
    tmp_path: Path,
) -> None:
    graph_url, sent = graph_headers
    (tmp_path / "federated-token").write_text(FEDERATED_JWT)
    env = _cli_env(
        authority,
        AZURE_TENANT_ID=OTHER_TENANT,  # the file's tenant must win
        **CREDENTIALS[kind],
    )

    done = _plan_in_subprocess(tmp_path, graph_url, kind, env, "-vv")

    assert done.returncode == 0, done.stderr
    assert "enterprise application 'Prompt (Example Health)'" in done.stdout
    paths = {path for path, _ in authority.requests}
    assert paths == {f"/{ORG_TENANT}/oauth2/v2.0/token"}
    form = authority.requests[0][1]
    assert form["scope"] == ["https://graph.microsoft.com/.default"]
    assert form["client_id"] == ["automation-app"]
    if kind == "workload-identity":
        assert form["client_assertion"] == [FEDERATED_JWT]
    else:
        assert form["client_secret"] == [CLIENT_SECRET]
    assert sent
    assert set(sent) == {f"Bearer {ACCESS_TOKEN}"}
    assert "DEBUG provisioning.graph: GET" in done.stderr  # -vv: every request
    for secret in (ACCESS_TOKEN, CLIENT_SECRET, FEDERATED_JWT):
        assert secret not in done.stdout + done.stderr


def _cli_env(authority: Authority | None, **variables: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AZURE_")
    }
    if authority is not None:
        env.update(
            AZURE_AUTHORITY_HOST=authority.url, SSL_CERT_FILE=str(authority.ca_file)
        )
    env.update(PROMPT_TEST_CODE="pscim_code-of-the-example-org", **variables)
    return env


def _plan_in_subprocess(
    tmp_path: Path, graph_url: str, kind: str, env: dict[str, str], *options: str
) -> subprocess.CompletedProcess[str]:
    text = (ROOT / "organisations" / "example.yaml").read_text()
    text = text.replace("  admin_url:", "  # admin_url:")
    org_file = tmp_path / "example.yaml"
    org_file.write_text(text.replace("{issue: true}", "{env: PROMPT_TEST_CODE}"))
    cli = [sys.executable, "-m", "provisioning.cli", *options, "--credential", kind]
    return subprocess.run(
        [*cli, "--graph-url", graph_url, "plan", str(org_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_missing_federated_token_file_names_the_variable_and_the_ci_step(
    graph_headers: tuple[str, list[str]], tmp_path: Path
) -> None:
    graph_url, sent = graph_headers
    env = _cli_env(
        None,
        AZURE_CLIENT_ID="automation-app",
        AZURE_FEDERATED_TOKEN_FILE="/nonexistent",
    )

    done = _plan_in_subprocess(tmp_path, graph_url, "workload-identity", env)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(
        "Error: AZURE_FEDERATED_TOKEN_FILE=/nonexistent: no such file; the CI step "
        "that writes the federated token must run first"
    )
    assert done.stderr.count("\n") == 1
    assert "unexpected" not in done.stderr
    assert sent == []


@pytest.mark.parametrize(
    ("kind", "given", "named"),
    [
        ("client-secret", {}, "needs AZURE_CLIENT_ID (the automation app "
         "registration's application id) and AZURE_CLIENT_SECRET (a client secret"),
        ("client-secret", {"AZURE_CLIENT_ID": "automation-app"},
         "needs AZURE_CLIENT_SECRET (a client secret of that app registration): it "
         "is not set or empty; export it"),
        ("workload-identity", {"AZURE_FEDERATED_TOKEN_FILE": "federated-token"},
         "needs AZURE_CLIENT_ID (the automation app registration's application id)"),
        ("workload-identity", {"AZURE_CLIENT_ID": "automation-app"},
         "needs AZURE_FEDERATED_TOKEN_FILE (the path of the federated token file)"),
    ],
)  # fmt: skip
def test_missing_credential_variables_are_named_with_what_they_hold(
    graph_headers: tuple[str, list[str]],
    tmp_path: Path,
    kind: str,
    given: dict[str, str],
    named: str,
) -> None:
    graph_url, sent = graph_headers

    done = _plan_in_subprocess(tmp_path, graph_url, kind, _cli_env(None, **given))

    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: --credential {kind} {named}"), done.stderr
    assert sent == []


def test_refused_token_request_is_a_sign_in_error_not_an_unexpected_one(
    authority: Authority, graph_headers: tuple[str, list[str]], tmp_path: Path
) -> None:
    graph_url, sent = graph_headers
    authority.refusing.append(True)
    env = _cli_env(
        authority, AZURE_CLIENT_ID="automation-app", AZURE_CLIENT_SECRET=CLIENT_SECRET
    )

    done = _plan_in_subprocess(tmp_path, graph_url, "client-secret", env)

    assert done.returncode == 1
    assert (
        f"example: Could not sign in to Microsoft Graph for tenant {ORG_TENANT} with "
        "--credential client-secret: the token request failed: " in done.stderr
    )
    assert "AADSTS7000215" in done.stderr
    assert "Check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET" in done.stderr
    assert "unexpected" not in done.stderr
    assert CLIENT_SECRET not in done.stdout + done.stderr
    assert sent == []


def test_unreachable_identity_platform_is_a_sign_in_error(
    graph_headers: tuple[str, list[str]], tmp_path: Path
) -> None:
    graph_url, sent = graph_headers
    closed = f"https://127.0.0.1:{free_port()}"
    env = _cli_env(
        None,
        AZURE_AUTHORITY_HOST=closed,
        AZURE_CLIENT_ID="automation-app",
        AZURE_CLIENT_SECRET=CLIENT_SECRET,
    )

    done = _plan_in_subprocess(tmp_path, graph_url, "client-secret", env)

    assert done.returncode == 1
    assert "the Microsoft identity platform (login.microsoftonline.com, or " in (
        done.stderr
    )
    assert "could not be reached (ServiceRequestError)" in done.stderr
    assert "unexpected" not in done.stderr
    assert sent == []
