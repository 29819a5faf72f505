"""One broken organisation among good ones: isolated, reported, exit status set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .ansible_support import Landscape, landscape

pytestmark = pytest.mark.slow

GOOD = ["org-a", "org-b", "org-c"]


@pytest.fixture
def land(tmp_path: Path) -> Iterator[Landscape]:
    with landscape(tmp_path) as started:
        for slug in GOOD:
            started.add_organisation(slug)
        yield started


def configured(land: Landscape, slug: str) -> bool:
    marker = f"prompt-provisioning:{slug}"
    return any(
        marker in (sp.get("tags") or [])
        for sp in land.emulator.state()["servicePrincipals"]
    )


def test_broken_token_and_missing_tenant_fail_alone(land: Landscape) -> None:
    # Prompt side not managed here, so the token reaches Entra's Test Connection,
    # which the SCIM service answers 401.
    land.add_organisation(
        "bad-token", admin_url=None, token="{env: PROMPT_TOKEN_BAD_TOKEN}"
    )
    no_tenant = land.add_organisation("no-tenant")
    text = no_tenant.read_text()
    start = text.index("  tenant_id:")
    end = text.index("\n", start)
    no_tenant.write_text(
        text[:start] + "  notification_email: it@example.com" + text[end:]
    )

    run = land.playbook("onboard.yml", PROMPT_TOKEN_BAD_TOKEN="not-a-live-code")

    assert run.returncode == 2, run.explain()
    for slug in GOOD:
        assert run.recap[slug]["failed"] == 0, run.explain()
        assert run.recap[slug]["changed"] == 1
        assert configured(land, slug)
    assert run.recap["bad-token"]["failed"] == 1
    assert run.recap["no-tenant"]["failed"] == 1
    assert "onboard: 5 organisation(s), 3 changed, 2 failed" in run.stdout
    # The application and the job were created before Test Connection failed.
    assert 'fatal: [bad-token]: FAILED! => {"changed": true' in run.stdout

    bad_token = next(
        line
        for line in run.stdout.splitlines()
        if line.startswith('        "bad-token: FAILED')
    )
    # What failed, where, and what to do (the slug itself contains "token").
    assert "validate credentials (Test Connection to" in bad_token, bad_token
    assert "rejected the Secret Token" in bad_token, bad_token
    assert "check prompt.token" in bad_token, bad_token
    assert "not-a-live-code" not in run.stdout + run.stderr
    no_tenant_line = next(
        line
        for line in run.stdout.splitlines()
        if line.startswith('        "no-tenant: FAILED')
    )
    assert "no-tenant.yaml:" in no_tenant_line  # file and line
    assert "entra.tenant_id: is required" in no_tenant_line


def test_max_fail_percentage_stops_later_batches(land: Landscape) -> None:
    land.add_organisation(
        "aaa-broken", admin_url=None, token="{env: PROMPT_TOKEN_AAA_BROKEN}"
    )

    run = land.playbook(
        "onboard.yml",
        "-e",
        "prompt_batch_size=2",
        "-e",
        "prompt_max_fail_percentage=10",
        PROMPT_TOKEN_AAA_BROKEN="wrong",
    )

    assert run.returncode != 0, run.explain()
    assert run.recap["aaa-broken"]["failed"] == 1
    assert configured(land, "org-a")
    assert not configured(land, "org-b")
    assert not configured(land, "org-c")
