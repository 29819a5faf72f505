"""`make demo-scim` (python -m demo.scim_round_trip) runs the round trip, exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_completes_round_trip() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo.scim_round_trip"],
        cwd=ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Round trip complete; service stopped." in result.stdout
    assert "re-attached: same id, department ICU kept" in result.stdout
    assert "pscim_" not in result.stdout
