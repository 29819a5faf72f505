"""No Secret Token in logs, state dumps, Graph answers or error messages."""

from __future__ import annotations

import logging

import pytest

from entra_emulator import Emulator

from .graph_sdk import HTTP
from .scim_recorder import RecordingScim
from .tenant_setup import configure


def test_token_never_leaks(
    emulator: Emulator,
    graph_url: str,
    scim: RecordingScim,
    scim_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    scim.token = "tok-" + "s3cr3t" * 4
    ada = emulator.user("ada.lovelace@contoso.example").id
    ids = configure(graph_url, scim_url, scim.token, [ada])
    sp_url = f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}"
    job_url = f"{sp_url}/synchronization/jobs/{ids.job_id}"
    seen: list[str] = []

    seen.append(str(emulator.cycle(ids.job_id)))
    wrong = {
        "useSavedCredentials": False,
        "credentials": [
            {"key": "BaseAddress", "value": scim_url},
            {"key": "SecretToken", "value": scim.token + "-old"},
        ],
    }
    seen.append(HTTP.post(job_url + "/validateCredentials", json=wrong).text)
    real = scim.token
    scim.token = "another"
    seen.append(str(emulator.cycle(ids.job_id)))  # 401: quarantine
    seen.append(HTTP.get(job_url).text)
    seen.append(HTTP.get(f"{graph_url}/v1.0/auditLogs/provisioning").text)
    seen.append(HTTP.get(f"{graph_url}/_emulator/state").text)
    seen.append(HTTP.get(f"{sp_url}/synchronization").text)

    everything = caplog.text + "".join(seen)
    assert "quarantined" in caplog.text  # the logs did capture the cycle
    assert real not in everything
    assert "s3cr3t" not in everything
