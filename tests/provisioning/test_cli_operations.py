"""status, destroy, rotate-token and provision-now against the emulator and service."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from entra_emulator.server import EmulatorConfig
from provisioning.cli import main
from provisioning.entra import Timings
from scim_service.storage import Actor
from tests.emulator.scim_recorder import RecordingScim, serve

from .engine_support import FAST, ROOT, Graph, PromptService, example_for
from .engine_support import run_cli as run

CLI = Actor(kind="cli")


@pytest.fixture
def org_file(tmp_path: Path, prompt_service: PromptService) -> Path:
    return example_for(tmp_path, prompt_service)


def live_tokens(prompt_service: PromptService) -> list[str]:
    tokens = prompt_service.store.list_tokens("example")
    return [t.id for t in tokens if t.revoked is None]


def only_job_id(graph: Graph) -> str:
    (job_id,) = graph.emulator.jobs
    return str(job_id)


def test_status_before_apply_is_unhealthy(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(graph, "status", str(org_file)) == 1

    captured = capsys.readouterr()
    assert "no enterprise application yet (run apply)" in captured.out
    assert "Error: unhealthy: example" in captured.err


def test_status_after_apply_and_a_cycle_is_healthy(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    graph.emulator.cycle(only_job_id(graph))
    capsys.readouterr()

    assert run(graph, "status", str(org_file)) == 0

    out = capsys.readouterr().out
    assert "healthy" in out
    assert "Active/Active" in out
    assert "Succeeded" in out
    users = prompt_service.store.get_organisation("example")
    assert users.default_department == "Nursing"


def test_quarantine_shows_in_status_and_rotate_token_lifts_it(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    (old,) = live_tokens(prompt_service)
    prompt_service.store.revoke_token("example", old, actor=CLI)
    graph.emulator.cycle(only_job_id(graph))
    capsys.readouterr()

    assert run(graph, "status", str(org_file)) == 1
    out = capsys.readouterr().out
    assert "UNHEALTHY" in out
    assert "quarantined" in out

    assert run(graph, "rotate-token", str(org_file)) == 0
    out = capsys.readouterr().out
    assert "restarted the quarantined job" in out
    (new,) = live_tokens(prompt_service)
    assert new != old
    graph.emulator.cycle(only_job_id(graph))
    assert run(graph, "status", str(org_file)) == 0

    graph.emulator.reset_writes()
    assert run(graph, "apply", str(org_file)) == 0
    assert graph.emulator.writes()["total"] == 0


def test_rotate_token_replaces_the_code_and_revokes_the_old_one(
    graph: Graph, prompt_service: PromptService, org_file: Path
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    (old,) = live_tokens(prompt_service)

    assert run(graph, "rotate-token", str(org_file)) == 0

    (new,) = live_tokens(prompt_service)
    assert new != old
    (sp,) = graph.emulator.state()["servicePrincipals"]
    secret = graph.emulator.secret_values(sp["id"])["SecretToken"]
    _, token = prompt_service.store.authenticate(secret)
    assert token.id == new
    assert f"prompt-secrets:v1:{new}:" in " ".join(sp["tags"])


def test_rotate_token_finds_the_organisation_by_slug(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    (old,) = live_tokens(prompt_service)
    folder = str(org_file.parent)

    assert run(graph, "rotate-token", "example", "--organisations", folder) == 0

    (new,) = live_tokens(prompt_service)
    assert new != old
    capsys.readouterr()
    assert run(graph, "rotate-token", "acme", "--organisations", folder) == 2
    err = capsys.readouterr().err
    assert f"no organisation 'acme' in {folder}/" in err


def test_rotate_token_needs_an_issued_token(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org_file.write_text(
        org_file.read_text().replace("{issue: true}", "{env: PROMPT_TEST_CODE}")
    )

    assert run(graph, "rotate-token", str(org_file)) == 1

    err = capsys.readouterr().err
    assert err.startswith("Error: rotate-token needs prompt.admin_url and token")
    assert "env PROMPT_TEST_CODE" in err


def test_destroy_needs_yes_then_removes_the_app_and_keeps_prompt_data(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(graph, "apply", str(org_file)) == 0

    assert run(graph, "destroy", str(org_file)) == 2
    assert "add --yes to confirm" in capsys.readouterr().err
    assert len(graph.emulator.state()["applications"]) == 1

    assert run(graph, "destroy", "--yes", str(org_file)) == 0
    state = graph.emulator.state()
    assert state["applications"] == []
    assert state["assignments"] == []
    organisation = prompt_service.store.get_organisation("example")
    assert organisation.provisioning_enabled is False
    assert organisation.default_department == "Nursing"
    assert live_tokens(prompt_service) == []

    assert run(graph, "destroy", "--yes", str(org_file)) == 0


def test_second_destroy_writes_nothing_and_says_so(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    assert run(graph, "destroy", "--yes", str(org_file)) == 0
    assert "destroyed" in capsys.readouterr().out
    audited = len(prompt_service.store.audit_events("example", limit=1000))
    graph.emulator.reset_writes()

    assert run(graph, "destroy", "--yes", str(org_file)) == 0

    out = capsys.readouterr().out
    assert "destroyed" not in out
    assert "nothing to delete" in out
    assert "Prompt: provisioning already off" in out
    assert "provisioning disabled" not in out
    assert len(prompt_service.store.audit_events("example", limit=1000)) == audited
    assert graph.emulator.writes()["total"] == 0


def test_provision_now_pushes_a_user_to_prompt(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    capsys.readouterr()

    assert (
        run(graph, "provision-now", str(org_file), "--user", "alice@example.org") == 0
    )

    assert "Success" in capsys.readouterr().out
    org = prompt_service.store.get_organisation("example")
    (alice,) = prompt_service.store.find_resources(
        org.id, "User", user_name="alice@example.org"
    )
    prompt_ext = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"
    assert alice.doc[prompt_ext]["department"] == "Nursing"


def test_provision_now_unknown_user_is_a_failed_row_and_the_others_go_on(
    graph: Graph,
    prompt_service: PromptService,
    org_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    capsys.readouterr()
    users = ("alice@example.org", "zed@example.org", "bob@example.org")

    code = run(graph, "provision-now", str(org_file), *(f"--user={u}" for u in users))

    assert code == 1
    captured = capsys.readouterr()
    rows = [line for line in captured.out.splitlines() if "@example.org" in line]
    assert [row.split("│")[1].strip() for row in rows] == list(users)
    assert "Failure" in rows[1]
    assert "no user 'zed@example.org' in tenant" in rows[1]
    assert "Success" in rows[0]
    assert "Success" in rows[2]
    assert captured.err == (
        "Error: provisioning failed for 1 of 3 user(s): zed@example.org\n"
    )
    org = prompt_service.store.get_organisation("example")
    provisioned = prompt_service.store.list_resources(org.id, "User")
    assert sorted(r.doc["userName"] for r in provisioned) == [users[0], users[2]]


def test_provision_now_success_rows_show_only_fields_with_values(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    capsys.readouterr()

    assert run(graph, "provision-now", str(org_file), "--user=bob@example.org") == 0

    out = capsys.readouterr().out
    assert "action=create" in out
    assert "=None" not in out
    assert "reason=" not in out
    assert "errorCode" not in out


def test_provision_now_needs_a_user(graph: Graph, org_file: Path) -> None:
    assert run(graph, "provision-now", str(org_file)) == 2


def test_status_without_log_permission_still_reports_the_job(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    graph.emulator.add_fault(
        status=403, count=20, method="GET", path="/auditLogs/provisioning"
    )
    capsys.readouterr()

    assert run(graph, "status", str(org_file)) == 0

    out = capsys.readouterr().out
    assert "healthy" in out
    assert "provisioning logs unavailable" in out
    assert "AuditLog.Read.All" in out


def test_provision_now_keeps_to_the_on_demand_limit(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Graph allows 5 provisionOnDemand requests per 10 s (graph.md 8.1); the
    # emulator answers 429 beyond its limit. Both shrunk to 2 per second here.
    assert (Timings().on_demand_requests, Timings().on_demand_window) == (5, 10.0)
    assert (EmulatorConfig().on_demand_limit, EmulatorConfig().on_demand_window) == (
        5,
        10.0,
    )
    graph.emulator.config.on_demand_limit = 2
    graph.emulator.config.on_demand_window = 1.0
    timings = dataclasses.replace(FAST, on_demand_requests=2, on_demand_window=1.0)
    assert run(graph, "apply", str(org_file)) == 0
    graph.emulator.reset_writes()
    users = [f"--user={name}@example.org" for name in ("alice", "bob", "carol")]
    base = ["--graph-url", graph.url, "--credential", "anonymous"]

    started = time.monotonic()
    assert main([*base, "provision-now", str(org_file), *users], timings=timings) == 0
    elapsed = time.monotonic() - started

    assert elapsed >= 1.0
    counted = dict(graph.emulator.request_counts)
    on_demand = [v for k, v in counted.items() if k.endswith("/provisionOnDemand")]
    assert on_demand == [3], counted  # no request was refused with 429 and resent
    out = capsys.readouterr().out
    assert out.count("Success") + out.count("Skipped") >= 3


def test_status_shows_quarantine_reason_counts_and_log_failures(
    graph: Graph,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # one table row per organisation
    scim = RecordingScim()
    with serve(scim.app()) as url:
        text = (ROOT / "organisations" / "example.yaml").read_text()
        text = text.replace("https://prompt.example.com/scim/v2", url + "/scim")
        text = text.replace("  admin_url:", "  # admin_url:")
        text = text.replace("{issue: true}", "{env: PROMPT_TEST_CODE}")
        text = text.replace("  groups:\n    - Prompt Users\n", "")
        path = tmp_path / "example.yaml"
        path.write_text(text)
        monkeypatch.setenv("PROMPT_TEST_CODE", scim.token)
        assert run(graph, "apply", str(path)) == 0

        scim.fail_next = [None, None, 400]  # the probe, the lookup, then the POST
        graph.emulator.cycle(only_job_id(graph))
        capsys.readouterr()
        assert run(graph, "status", str(path)) == 1
        failed = capsys.readouterr()

        scim.token = "scim-token-2"  # the endpoint now refuses the saved token
        graph.emulator.cycle(only_job_id(graph))
        assert run(graph, "status", str(path)) == 1
        quarantined = capsys.readouterr()

    assert "1 recent provisioning failure(s)" in failed.out
    assert "Alice Adams: SystemForCrossDomainIdentityManagementBadRequest" in failed.out
    assert "Imported=1" in failed.out
    assert "EntryLevelErrors" in failed.out
    assert "Error: unhealthy: example" in failed.err
    assert "Active/Quarantine" in quarantined.out
    assert "quarantined (EncounteredQuarantineException:" in quarantined.out
    assert "CredentialValidationFailure" in quarantined.out
    assert "scim-token-1" not in quarantined.out
