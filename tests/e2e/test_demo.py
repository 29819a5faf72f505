"""The main job: `python -m demo`'s flow runs end to end, cleans up, hides tokens."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from ._stack import ROOT

URL = re.compile(r"http://127\.0\.0\.1:(\d+)")


def demo_env(columns: int = 160) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPT_")}
    return {**env, "COLUMNS": str(columns), "NO_COLOR": "1"}


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def assert_stopped(output: str) -> None:
    ports = {int(p) for p in URL.findall(output)}
    assert ports, "the demo should say where its servers run"
    deadline = time.monotonic() + 5
    while any(listening(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in ports if listening(p)], "a demo server is still running"


@pytest.mark.slow
def test_demo_provisions_changes_and_stops_everything() -> None:
    """Piped at 80 columns (`make demo | cat`): every step shown, nothing cut."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        env=demo_env(columns=80),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    elapsed = time.monotonic() - started

    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert elapsed < 60
    assert [line for line in out.splitlines() if len(line.rstrip()) > 80] == []
    assert "…" not in out  # rich's ellipsis: a cell cut short
    text = " ".join(out.split())  # lines wrapped at 80, read as one
    assert "Started the Prompt SCIM service and the Entra emulator" in text
    assert "a sample tenant of 301 users and 3 groups" in text
    # The apply table lists every change, start of the job included.
    for change in ("create prompt-organisation", "validate credentials", "start"):
        assert change in out
    assert "job-state" in out
    assert "new users land in Nursing / Ward 3" in text
    assert "Initial provisioning cycle: 257 created, 4 skipped" in text
    assert "Prompt users created by Entra (257)" in out
    assert "Nursing" in out
    assert "Ward 3" in out
    assert "first 15 of 257 shown" in out
    for change in (
        "disabled umar.ulrich@example.org",
        "disabled keiko.lindqvist@example.org",
        "removed Alice Adams's assignment to the app",
        "renamed Keiko Kowalski to Keiko Kowalski-Okoye",
    ):
        assert change in out
    assert "Incremental cycle: 1 updated, 3 disabled" in text
    assert "266 SCIM requests, 4 writes" in text
    for user in ("alice", "umar.ulrich", "keiko.lindqvist"):
        assert re.search(rf"{user}@example\.org +│ active: True -> False", out)
    assert "name.familyName: Kowalski -> Kowalski-Okoye" in out
    assert "Prompt audit trail: resource.patch x4" in out
    assert "Next cycle, nothing changed: 4 skipped" in text
    assert "261 SCIM requests, 0 writes" in text
    assert "pscim_" not in out  # no Provisioning Authentication Code
    assert_stopped(out)


@pytest.mark.slow
def test_demo_stops_its_servers_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "Prompt and Entra configured" in line:
            process.send_signal(signal.SIGINT)
            break
    rest, _ = process.communicate(timeout=60)

    out = "".join(seen) + rest
    assert process.returncode == 130, out
    assert "Interrupted." in out
    assert_stopped(out)
