"""Plans: order of changes, renderings, and drift of names and settings."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from provisioning import _fingerprint
from scim_service.storage import Actor

from .engine_support import ROOT, Graph, PromptService, example_for
from .engine_support import run_cli as run


@pytest.fixture
def org_file(tmp_path: Path, prompt_service: PromptService) -> Path:
    return example_for(tmp_path, prompt_service)


def only_job(state: dict[str, Any]) -> dict[str, Any]:
    (job,) = state["jobs"]
    return dict(job)


def plan_json(graph: Graph, path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert run(graph, "plan", "--format", "json", str(path)) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_first_plan_follows_the_design_order(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_json(graph, org_file, capsys)

    (organisation,) = plan["organisations"]
    steps = [(c["action"], c["step"]) for c in organisation["changes"]]
    assert steps == [
        ("create", "prompt-organisation"),
        ("issue", "prompt-token"),
        ("create", "application"),
        ("create", "job"),
        ("validate", "credentials"),
        ("update", "secrets"),
        ("update", "schema"),
        ("assign", "assignments"),
        ("assign", "assignments"),
        ("start", "job-state"),
    ]
    assert plan["changes"] == 10
    assert graph.emulator.writes()["total"] == 0


def test_markdown_plan_fits_a_pull_request_comment(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(graph, "plan", "--format", "markdown", str(org_file)) == 0

    out = capsys.readouterr().out
    assert out.startswith("### prompt-provision plan")
    assert "| `example` |" in out
    assert "<details><summary><code>example</code>: 10 change(s)</summary>" in out
    assert "```diff\n+ create prompt-organisation: Prompt organisation 'example'" in out
    assert "#     SecretToken: (changed)" in out


def test_renamed_application_and_new_e_mail_are_planned_and_applied(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    text = org_file.read_text()
    text = text.replace("name: Prompt (Example Health)", "name: Prompt EH")
    org_file.write_text(text.replace("it-ops@example.org", "helpdesk@example.org"))

    (organisation,) = plan_json(graph, org_file, capsys)["organisations"]
    changes = {(c["action"], c["step"]): c["details"] for c in organisation["changes"]}
    assert changes[("rename", "application")] == [
        "displayName: Prompt (Example Health) -> Prompt EH"
    ]
    assert "notification e-mail: helpdesk@example.org" in changes[("update", "secrets")]
    assert run(graph, "apply", str(org_file)) == 0

    state = graph.emulator.state()
    (app,) = state["applications"]
    (sp,) = state["servicePrincipals"]
    assert app["displayName"] == sp["displayName"] == "Prompt EH"
    graph.emulator.reset_writes()
    assert run(graph, "apply", str(org_file)) == 0
    assert graph.emulator.writes()["total"] == 0


def test_notification_e_mail_edited_in_the_portal_is_drift(
    graph: Graph, org_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(graph, "apply", str(org_file)) == 0
    with graph.emulator.lock:
        (pairs,) = graph.emulator.secrets.values()
        for pair in pairs:
            if pair["key"] == "SyncNotificationSettings":
                pair["value"] = json.dumps({"Enabled": True, "Recipients": "x@y.z"})

    (organisation,) = plan_json(graph, org_file, capsys)["organisations"]

    (secrets,) = [c for c in organisation["changes"] if c["step"] == "secrets"]
    assert "notification e-mail was x@y.z" in secrets["details"]


def test_fingerprint_of_a_token_is_salted_and_verifiable() -> None:
    first = _fingerprint.token_digest("pscim_secret")
    second = _fingerprint.token_digest("pscim_secret")

    assert first != second
    assert "pscim_secret" not in first
    assert _fingerprint.token_matches(first, "pscim_secret")
    assert _fingerprint.token_matches(second, "pscim_secret")
    assert not _fingerprint.token_matches(first, "pscim_other")
    assert not _fingerprint.token_matches("tok_1234abcd", "pscim_secret")


def test_fingerprint_tag_round_trip() -> None:
    settings = _fingerprint.settings_digest(
        base_address="https://p.example/scim/v2", sync_all=False, email=None
    )
    fingerprint = _fingerprint.Fingerprint(token="tok_3f9a2c1b", settings=settings)

    tags = ["WindowsAzureActiveDirectoryIntegratedApp", fingerprint.tag()]
    assert _fingerprint.Fingerprint.parse(tags) == fingerprint
    assert _fingerprint.Fingerprint.parse(["prompt-provisioning:acme"]) is None
    assert settings != _fingerprint.settings_digest(
        base_address="https://p.example/scim/v2", sync_all=True, email=None
    )


def test_long_markdown_plan_keeps_under_the_comment_limit() -> None:
    from provisioning.plan import MARKDOWN_LIMIT, OrganisationPlan, render
    from provisioning.spec import load_organisation

    spec = load_organisation(ROOT / "organisations" / "example.yaml")
    plan = OrganisationPlan(path=Path("organisations/example.yaml"), spec=spec)
    for index in range(3000):
        plan.add("assignments", "assign", f"user u{index}@example.org", "app role User")

    text = render([plan], "markdown")

    assert len(text) <= MARKDOWN_LIMIT
    assert "| `example` | `organisations/example.yaml` | 3000 |" in text
    assert "The details are left out" in text
    assert len(render([plan], "text")) > MARKDOWN_LIMIT


def test_session_builds_one_graph_client_per_tenant() -> None:
    import asyncio

    from provisioning._run import Session
    from provisioning.graph import GraphConfig
    from provisioning.spec import load_organisation

    example = load_organisation(ROOT / "organisations" / "example.yaml")
    other = example.model_copy(
        update={"entra": example.entra.model_copy(update={"tenant_id": "9" * 8})}
    )
    config = GraphConfig(base_url="http://127.0.0.1:9/v1.0", credential="anonymous")

    async def scenario() -> None:
        async with Session(config) as session:
            first, again, second = (
                session.for_org(spec) for spec in (example, example, other)
            )
            assert first is again
            assert first[1] is not second[1]

    asyncio.run(scenario())


def test_apply_writes_in_the_design_order_and_assigns_after_the_schema(
    graph: Graph, org_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="entra_emulator")

    assert run(graph, "apply", str(org_file)) == 0

    # The emulator logs one line per write it carries out, in order.
    writes = [
        r.getMessage().split()[0] for r in caplog.records if r.name.startswith("entra_")
    ]
    assert writes == [
        "instantiated",  # application from the non-gallery template
        "created",  # synchronization job
        "saved",  # synchronization secrets
        "replaced",  # schema
        "assigned",
        "assigned",
        "started",  # synchronization job
    ]


def test_no_assignment_while_the_schema_cannot_be_saved(
    graph: Graph, org_file: Path
) -> None:
    schema = "/servicePrincipals/*/synchronization/jobs/*/schema"
    graph.emulator.add_fault(status=500, count=1, method="PUT", path=schema)

    assert run(graph, "apply", str(org_file)) == 1

    state = graph.emulator.state()
    assert state["assignments"] == []
    assert only_job(state)["schedule"]["state"] == "Disabled"


def test_secret_token_shows_unchanged_when_only_settings_change(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = example_for(tmp_path, prompt_service)
    assert run(graph, "apply", str(path)) == 0
    issued = prompt_service.store.issue_token("example", actor=Actor(kind="cli"))
    monkeypatch.setenv("PROMPT_TEST_CODE", issued.secret)
    text = path.read_text().replace("{issue: true}", "{env: PROMPT_TEST_CODE}")
    path.write_text(text)
    assert run(graph, "apply", str(path)) == 0
    path.write_text(text.replace("it-ops@example.org", "helpdesk@example.org"))
    capsys.readouterr()

    assert run(graph, "plan", "--detailed-exitcode", str(path)) == 2

    out = capsys.readouterr().out
    assert "SecretToken: (unchanged)" in out
    assert "SecretToken: (changed)" not in out
    assert issued.secret not in out
