"""status.yml, offboard.yml and secrets; each test works on its own organisations.

One landscape per module: org-a and org-b for status, org-c for offboarding,
org-d (onboarded by its test) for secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .ansible_support import ADMIN_KEY, Landscape, landscape

pytestmark = pytest.mark.slow

SLUGS = ("org-a", "org-b", "org-c")


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landscape]:
    with landscape(tmp_path_factory.mktemp("lifecycle")) as land:
        for slug in SLUGS:
            land.add_organisation(slug)
        run = land.playbook("onboard.yml")
        assert run.returncode == 0, run.explain()
        yield land


def app_of(land: Landscape, slug: str) -> dict[str, Any] | None:
    marker = f"prompt-provisioning:{slug}"
    found = [
        sp
        for sp in land.emulator.state()["servicePrincipals"]
        if marker in (sp.get("tags") or [])
    ]
    return found[0] if found else None


def test_status_reports_healthy_then_a_paused_job(onboarded: Landscape) -> None:
    limit = ("--limit", "org-a,org-b")
    # From the repository root without playbooks/ansible.cfg: the modules,
    # module_utils and the inventory plugin are found next to the playbook.
    healthy = onboarded.playbook("status.yml", *limit, ANSIBLE_CONFIG=None)
    sp = app_of(onboarded, "org-b")
    assert sp is not None
    (job,) = [
        j
        for j in onboarded.emulator.state()["jobs"]
        if j["servicePrincipalId"] == sp["id"]
    ]
    with httpx.Client(base_url=onboarded.graph_url) as graph:
        pause = f"/servicePrincipals/{sp['id']}/synchronization/jobs/{job['id']}/pause"
        graph.post(pause).raise_for_status()

    failing = onboarded.playbook("status.yml", *limit)
    reported = onboarded.playbook(
        "status.yml", *limit, "-e", "prompt_fail_unhealthy=false"
    )

    assert healthy.returncode == 0, healthy.explain()
    assert '"org-a: healthy (job Active)"' in healthy.stdout
    assert '"org-b: healthy (job Active)"' in healthy.stdout
    assert failing.returncode == 2, failing.explain()
    assert failing.recap["org-a"]["failed"] == 0
    assert failing.recap["org-b"]["failed"] == 1
    assert "org-b is unhealthy: job is Paused, provisioning should be On" in (
        failing.stdout
    )
    assert reported.returncode == 0, reported.explain()
    assert "org-b: UNHEALTHY: job is Paused" in reported.stdout
    assert "1 pending change(s)" in reported.stdout


def test_offboard_needs_confirmation(onboarded: Landscape) -> None:
    missing = onboarded.playbook("offboard.yml", "-e", "organisations=org-a")
    other = onboarded.playbook(
        "offboard.yml", "-e", "organisations=org-a", "-e", "confirm_offboard=org-b"
    )

    for run in (missing, other):
        assert run.returncode == 2, run.explain()
        assert "confirm_offboard" in run.stdout
        assert "org-a" not in run.recap
    assert app_of(onboarded, "org-a") is not None


def test_offboard_removes_one_organisation(onboarded: Landscape) -> None:
    confirm = ("-e", "organisations=org-c", "-e", "confirm_offboard=org-c")
    writes = onboarded.emulator.writes()["total"]

    check = onboarded.playbook("offboard.yml", *confirm, "--check", "--diff")

    assert check.returncode == 0, check.explain()
    assert check.recap["org-c"]["changed"] == 1
    assert "offboard: delete enterprise application 'Prompt (Org org-c)'" in (
        check.stdout
    )
    assert onboarded.emulator.writes()["total"] == writes
    assert onboarded.store.get_organisation("org-c").provisioning_enabled
    assert any(not t.revoked for t in onboarded.store.list_tokens("org-c"))

    done = onboarded.playbook("offboard.yml", *confirm)
    again = onboarded.playbook("offboard.yml", *confirm)

    assert done.returncode == 0, done.explain()
    assert done.recap["org-c"]["changed"] == 1
    assert set(done.recap) == {"org-c"}
    assert app_of(onboarded, "org-c") is None
    assert app_of(onboarded, "org-a") is not None
    assert not onboarded.store.get_organisation("org-c").provisioning_enabled
    assert all(t.revoked for t in onboarded.store.list_tokens("org-c"))
    assert again.returncode == 0, again.explain()
    assert again.recap["org-c"]["changed"] == 0


def test_secrets_never_reach_the_output(onboarded: Landscape) -> None:
    onboarded.add_organisation("org-d")

    run = onboarded.playbook(
        "onboard.yml",
        "--limit",
        "org-d",
        "-vvv",
        "-e",
        f"prompt_admin_key={ADMIN_KEY}",
        PROMPT_SCIM_ADMIN_KEY="",
    )

    assert run.returncode == 0, run.explain()
    assert run.recap["org-d"]["changed"] == 1
    sp = app_of(onboarded, "org-d")
    assert sp is not None
    code = onboarded.emulator.secret_values(sp["id"])["SecretToken"]
    output = run.stdout + run.stderr
    assert "INFO created Prompt organisation org-d" in output
    assert "INFO started synchronization job" in output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output
    assert ADMIN_KEY not in output
    assert code not in output
