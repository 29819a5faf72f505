"""The `entra-emulator` command line: seed, serve (subprocess), cycle, state."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import httpx
import pytest
import yaml

from tests.conftest import free_port

from .conftest import SEED
from .graph_sdk import HTTP
from .scim_recorder import RecordingScim
from .tenant_setup import configure

CLI = [sys.executable, "-m", "entra_emulator"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_seed_prints_a_loadable_tenant() -> None:
    result = _run("seed", "--users", "12", "--groups", "3", "--disabled", "2")
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert len(data["users"]) == 12
    assert [u["accountEnabled"] for u in data["users"]].count(False) == 2
    assert [len(g["members"]) for g in data["groups"]] == [4, 4, 4]


def test_usage_errors_exit_2() -> None:
    assert _run("seed", "--groups", "0").returncode == 2
    result = _run("cycle")
    assert result.returncode == 2
    assert "--job" in result.stderr


def test_unreachable_emulator_is_one_error_line() -> None:
    result = _run("cycle", "--url", "http://127.0.0.1:9", "--job", "x")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: Cannot reach the emulator")
    assert "Traceback" not in result.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    seed = tmp_path / "tenant.yaml"
    seed.write_text(yaml.safe_dump(SEED))
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--seed", str(seed), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if HTTP.get(url + "/_emulator/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_serve_and_cycle(served: str, scim: RecordingScim, scim_url: str) -> None:
    users = HTTP.get(served + "/_emulator/users").json()["value"]
    ada = next(u["id"] for u in users if u["userPrincipalName"].startswith("ada."))
    ids = configure(served, scim_url, scim.token, [ada])
    job = HTTP.get(
        f"{served}/v1.0/servicePrincipals/{ids.sp_id}/synchronization/jobs/{ids.job_id}"
    ).json()
    assert job["schedule"]["interval"] == "PT40M"  # serve's default --interval

    result = _run("cycle", "--url", served, "--job", ids.job_id)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[ids.job_id]["created"] == 1
    assert [u["userName"] for u in scim.users.values()] == [
        "ada.lovelace@contoso.example"
    ]
    again = _run("cycle", "--url", served, "--all")
    assert json.loads(again.stdout) == {ids.job_id: ANY}
    assert json.loads(again.stdout)[ids.job_id]["writes"] == 0
    state = _run("state", "--url", served)
    assert '"SecretToken"' in state.stdout
    assert scim.token not in state.stdout


def test_short_help_option_like_the_other_commands() -> None:
    result = _run("-h")

    assert result.returncode == 0, result.stderr
    assert "Run one provisioning cycle now" in result.stdout
