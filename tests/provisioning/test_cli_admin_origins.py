"""The admin key and token checks go only to loopback or allowed admin origins.

A pull request's organisation file can name any prompt.admin_url, and `plan` runs
with PROMPT_SCIM_ADMIN_KEY. Here a real SCIM service serves https on 127.0.0.1 and
is addressed as https://0.0.0.0:PORT, which reaches it but is not a loopback name:
it stands for an outside host. The CLI runs in its own interpreter so that
SSL_CERT_FILE is read afresh.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scim_service.api.app import create_app
from scim_service.settings import Settings
from scim_service.storage import Store

from .engine_support import (
    ADMIN_KEY,
    ROOT,
    Graph,
    PromptService,
    ServerThread,
    self_signed,
)

RUNNER_SECRET = "automation-client-secret-of-the-ci-runner"
FILE_SECRET = "contents-of-a-file-outside-the-organisations-folder"


@dataclass
class Remote:
    """The SCIM service at a non-loopback origin; what reached it."""

    origin: str
    ca_file: Path
    requests: list[tuple[str, str, str]] = field(default_factory=list)


@pytest.fixture
def remote(tmp_path: Path, migrated_database: Path) -> Iterator[Remote]:
    """A second SCIM service over https, recording method, path, Authorization."""
    shutil.copy(migrated_database, tmp_path / "remote.db")
    store = Store.open(f"sqlite:///{tmp_path / 'remote.db'}")
    settings = Settings(
        database_url="sqlite://", admin_key=ADMIN_KEY, log_level="WARNING"
    )
    inner = create_app(settings, store=store)
    seen: list[tuple[str, str, str]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            authorization = headers.get(b"authorization", b"").decode()
            seen.append((scope["method"], scope["path"], authorization))
        await inner(scope, receive, send)

    tls = self_signed(tmp_path, "0.0.0.0", "127.0.0.1")
    with ServerThread(app, tls=tls) as server:
        yield Remote(f"https://0.0.0.0:{server.port}", tls[0], seen)
    store.close()


def organisation(folder: Path, slug: str, base: str, token: str) -> Path:
    """organisations/example.yaml as `slug`, its Prompt side at `base`."""
    text = (ROOT / "organisations" / "example.yaml").read_text()
    text = text.replace("organisation: example", f"organisation: {slug}")
    text = text.replace("https://prompt.example.com", base)
    path = folder / f"{slug}.yaml"
    path.write_text(text.replace("{issue: true}", token))
    return path


def plan(graph: Graph, folder: Path, remote: Remote, **env: str) -> Any:
    environ = {
        name: value
        for name, value in os.environ.items()
        if name != "PROMPT_SCIM_ADMIN_ORIGINS"
    }
    environ.update(
        SSL_CERT_FILE=str(remote.ca_file),
        PROMPT_SCIM_ADMIN_KEY=ADMIN_KEY,
        AZURE_CLIENT_SECRET=RUNNER_SECRET,
        **env,
    )
    cli = [sys.executable, "-m", "provisioning.cli", "--credential", "anonymous"]
    return subprocess.run(
        [*cli, "--graph-url", graph.url, "plan", str(folder)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=folder,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "token",
    ["{env: AZURE_CLIENT_SECRET}", "{file: ../outside/secret.txt}", "{issue: true}"],
)
def test_plan_sends_nothing_to_an_origin_that_is_not_allowed(
    token: str,
    graph: Graph,
    prompt_service: PromptService,
    remote: Remote,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "organisations"
    folder.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(FILE_SECRET)
    organisation(folder, "acme", prompt_service.url, "{issue: true}")
    attacker = organisation(folder, "evil", remote.origin, token)

    done = plan(graph, folder, remote)

    assert done.returncode == 1, done.stderr
    assert remote.requests == []
    assert (
        f"evil: {attacker}: prompt.admin_url {remote.origin}/admin is not an allowed "
        f"admin origin; set PROMPT_SCIM_ADMIN_ORIGINS={remote.origin} to allow "
        "sending the admin key there"
    ) in done.stderr
    # The other organisation is planned as usual (its service is on loopback).
    assert "Prompt organisation 'acme'" in done.stdout
    assert "could not be planned: evil" in done.stderr
    for secret in (ADMIN_KEY, RUNNER_SECRET, FILE_SECRET):
        assert secret not in done.stdout + done.stderr


def test_an_allowed_origin_gets_the_admin_key(
    graph: Graph, remote: Remote, tmp_path: Path
) -> None:
    folder = tmp_path / "organisations"
    folder.mkdir()
    organisation(folder, "acme", remote.origin, "{issue: true}")
    allowed = f"https://prompt.example.com, {remote.origin}/ ,"

    refused = plan(graph, folder, remote)
    assert refused.returncode == 1
    assert remote.requests == []

    done = plan(graph, folder, remote, PROMPT_SCIM_ADMIN_ORIGINS=allowed)

    assert done.returncode == 0, done.stderr
    assert "Prompt organisation 'acme'" in done.stdout
    assert ("GET", "/admin/organisations/acme", f"Bearer {ADMIN_KEY}") in (
        remote.requests
    )
