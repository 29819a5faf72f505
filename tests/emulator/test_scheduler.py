"""Scheduled provisioning cycles: every `cycle_interval` seconds after start.

Entra runs a started job's cycles about every 40 minutes (scim-entra.md 5); the
emulator's default is the same and the interval is configurable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from entra_emulator import Emulator, EmulatorConfig

from .graph_sdk import HTTP
from .scim_recorder import RecordingScim
from .tenant_setup import assign, configure

UPN = "{}@contoso.example"


def _wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Poll until condition() holds; return when (monotonic), fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
    return time.monotonic()


def _job(graph_url: str, sp_id: str, job_id: str) -> dict[str, Any]:
    url = f"{graph_url}/v1.0/servicePrincipals/{sp_id}/synchronization/jobs/{job_id}"
    job: dict[str, Any] = HTTP.get(url).json()
    return job


def test_default_interval_is_forty_minutes_and_start_runs_no_cycle(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    assert EmulatorConfig().cycle_interval == 2400
    ada = emulator.user(UPN.format("ada.lovelace")).id

    ids = configure(graph_url, scim_url, scim.token, [ada])
    time.sleep(1.2)  # more than two ticks of the scheduler

    assert _job(graph_url, ids.sp_id, ids.job_id)["schedule"] == {
        "expiration": None,
        "interval": "PT40M",
        "state": "Active",
    }
    assert scim.requests == []  # the first cycle is 40 minutes away


def test_cycles_repeat_at_the_configured_interval(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    emulator.config.cycle_interval = 1.0
    ada = emulator.user(UPN.format("ada.lovelace")).id
    alan = emulator.user(UPN.format("alan.turing")).id

    started = time.monotonic()
    ids = configure(graph_url, scim_url, scim.token, [ada])
    first = _wait_for(lambda: scim.by_user_name(UPN.format("ada.lovelace")), 5)
    assign(graph_url, ids.sp_id, alan)
    second = _wait_for(lambda: scim.by_user_name(UPN.format("alan.turing")), 5)

    job = _job(graph_url, ids.sp_id, ids.job_id)
    assert job["schedule"]["interval"] == "PT1S"
    assert first - started >= 0.9  # not at start: one interval later
    assert second - first >= 0.9  # and again one interval after that
    assert job["status"]["lastExecution"]["state"] == "Succeeded"


def test_paused_job_has_no_scheduled_cycles(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    emulator.config.cycle_interval = 0.5
    ada = emulator.user(UPN.format("ada.lovelace")).id
    ids = configure(graph_url, scim_url, scim.token, [ada])
    jobs = f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}/synchronization/jobs"

    HTTP.post(f"{jobs}/{ids.job_id}/pause")
    time.sleep(1.2)

    assert scim.requests == []
    assert _job(graph_url, ids.sp_id, ids.job_id)["status"]["code"] == "Paused"
