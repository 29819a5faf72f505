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


def demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPT_")}
    return {**env, "COLUMNS": "160", "NO_COLOR": "1"}


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
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        env=demo_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    elapsed = time.monotonic() - started

    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert elapsed < 60
    assert "Initial provisioning cycle: 257 created, 4 skipped" in out
    assert "Prompt users created by Entra (257)" in out
    assert "Nursing" in out
    assert "Ward 3" in out
    assert "Incremental cycle: 1 updated, 3 disabled" in out
    assert "Kowalski-Okoye" in out
    assert "resource.patch x4" in out
    assert "Next cycle, nothing changed: 4 skipped; 261 SCIM requests, 0 writes" in out
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
