"""Tokens: change detection without reading them back; never printed or logged."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from scim_service.api.app import create_app
from scim_service.settings import Settings
from scim_service.storage import Actor, Store

from .engine_support import ADMIN_KEY, ROOT, Graph, PromptService, ServerThread
from .engine_support import run_cli as run

CLI = Actor(kind="cli")


def example(tmp_path: Path, prompt_service: PromptService, token: str) -> Path:
    text = (ROOT / "organisations" / "example.yaml").read_text()
    text = text.replace("https://prompt.example.com", prompt_service.url)
    path = tmp_path / "example.yaml"
    path.write_text(text.replace("{issue: true}", token))
    return path


def saved_token(graph: Graph) -> str:
    (sp,) = graph.emulator.state()["servicePrincipals"]
    return str(graph.emulator.secret_values(sp["id"])["SecretToken"])


def sp_tags(graph: Graph) -> list[str]:
    (sp,) = graph.emulator.state()["servicePrincipals"]
    return list(sp["tags"])


@pytest.mark.slow
def test_no_token_or_key_in_output_or_logs_at_debug(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = example(tmp_path, prompt_service, "{issue: true}")
    caplog.set_level(logging.DEBUG)
    secrets = [ADMIN_KEY]

    loud = ("--debug", "-vv")
    assert run(graph, *loud, "plan", str(path)) == 0
    assert run(graph, *loud, "apply", str(path)) == 0
    secrets.append(saved_token(graph))
    assert run(graph, *loud, "rotate-token", str(path)) == 0
    secrets.append(saved_token(graph))
    with graph.emulator.lock:
        (pairs,) = graph.emulator.secrets.values()
        next(p for p in pairs if p["key"] == "SyncAll")["value"] = "true"
    for fmt in ("text", "markdown", "json"):
        assert run(graph, *loud, "plan", "--format", fmt, str(path)) == 0
    assert run(graph, *loud, "apply", str(path)) == 0
    secrets.append(saved_token(graph))
    assert run(graph, *loud, "status", str(path)) == 0
    assert run(graph, *loud, "destroy", "--yes", str(path)) == 0

    captured = capsys.readouterr()
    assert "SecretToken: (changed)" in captured.out
    assert "DEBUG provisioning.graph: PUT" in captured.err
    assert len(set(secrets)) == 4
    for secret in secrets:
        assert secret not in captured.out
        assert secret not in captured.err
        assert secret not in caplog.text


def test_env_token_is_verified_by_id_and_a_new_code_is_detected(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = example(tmp_path, prompt_service, "{issue: true}")
    assert run(graph, "apply", str(path)) == 0
    first = prompt_service.store.issue_token("example", actor=CLI)
    monkeypatch.setenv("PROMPT_TEST_CODE", first.secret)
    path = example(tmp_path, prompt_service, "{env: PROMPT_TEST_CODE}")

    assert run(graph, "apply", str(path)) == 0
    assert saved_token(graph) == first.secret
    assert f"prompt-secrets:v1:{first.info.id}:" in " ".join(sp_tags(graph))
    graph.emulator.reset_writes()
    assert run(graph, "apply", str(path)) == 0
    assert graph.emulator.writes()["total"] == 0

    second = prompt_service.store.issue_token("example", actor=CLI)
    monkeypatch.setenv("PROMPT_TEST_CODE", second.secret)
    capsys.readouterr()
    assert run(graph, "plan", "--detailed-exitcode", str(path)) == 2
    out = capsys.readouterr().out
    assert "SecretToken: (changed)" in out
    assert second.secret not in out
    assert run(graph, "apply", str(path)) == 0
    assert saved_token(graph) == second.secret

    prompt_service.store.revoke_token("example", second.info.id, actor=CLI)
    assert run(graph, "plan", str(path)) == 1
    err = capsys.readouterr().err
    assert "is not a live Provisioning Authentication Code of 'example'" in err
    assert second.secret not in err


def test_file_token_without_admin_api_uses_a_salted_fingerprint(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prompt_service.store.create_organisation(
        slug="example", display_name="Example Health", actor=CLI
    )
    first = prompt_service.store.issue_token("example", actor=CLI)
    (tmp_path / "code").write_text(first.secret + "\n")
    path = example(tmp_path, prompt_service, "{file: code}")
    path.write_text(path.read_text().replace("  admin_url:", "  # admin_url:"))

    assert run(graph, "apply", str(path)) == 0
    (tag,) = [t for t in sp_tags(graph) if t.startswith("prompt-secrets:v1:")]
    assert tag.startswith("prompt-secrets:v1:s")
    assert first.secret not in tag
    graph.emulator.reset_writes()
    assert run(graph, "apply", str(path)) == 0
    assert graph.emulator.writes()["total"] == 0

    second = prompt_service.store.issue_token("example", actor=CLI)
    (tmp_path / "code").write_text(second.secret)
    capsys.readouterr()
    assert run(graph, "plan", "--detailed-exitcode", "--format", "json", str(path)) == 2
    plan = json.loads(capsys.readouterr().out)
    (secrets,) = [
        c for c in plan["organisations"][0]["changes"] if c["step"] == "secrets"
    ]
    assert "SecretToken: (changed)" in secrets["details"]
    assert run(graph, "apply", str(path)) == 0
    assert saved_token(graph) == second.secret


def test_rejected_token_error_does_not_show_it(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prompt_service.store.create_organisation(
        slug="example", display_name="Example Health", actor=CLI
    )
    wrong = "pscim_" + "x" * 43
    (tmp_path / "code").write_text(wrong)
    path = example(tmp_path, prompt_service, "{file: code}")
    path.write_text(path.read_text().replace("  admin_url:", "  # admin_url:"))

    assert run(graph, "--debug", "apply", str(path)) == 1

    captured = capsys.readouterr()
    assert "Test Connection" in captured.err
    assert wrong not in captured.err
    assert wrong not in captured.out
    assert graph.emulator.state()["assignments"] == []


def test_whitespace_only_env_token_stops_plan_and_apply(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPT_TOK", "   ")
    path = example(tmp_path, prompt_service, "{env: PROMPT_TOK}")
    path.write_text(path.read_text().replace("  admin_url:", "  # admin_url:"))

    assert run(graph, "plan", str(path)) == 1
    assert run(graph, "apply", str(path)) == 1

    err = capsys.readouterr().err
    assert "Environment variable PROMPT_TOK is not set or empty" in err
    assert graph.emulator.state()["servicePrincipals"] == []


@pytest.mark.parametrize(
    ("token", "hint"),
    [
        (
            "{env: PROMPT_TEST_CODE}",
            "set PROMPT_TEST_CODE to a live code of 'example' (prompt-scim token "
            "issue example prints a new one) and run again; check prompt.token if "
            "PROMPT_TEST_CODE is not the variable meant.",
        ),
        (
            "{file: example.token}",
            "put a live code of 'example' in example.token (prompt-scim token issue "
            "example prints a new one) and run again; check prompt.token if "
            "example.token is not the file meant.",
        ),
    ],
)
def test_refused_token_hint_depends_on_where_the_token_comes_from(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str,
    hint: str,
) -> None:
    # Without admin_url nothing checks the code before Entra's Test Connection.
    path = example(tmp_path, prompt_service, token)
    path.write_text(path.read_text().replace("  admin_url:", "  # admin_url:"))
    wrong = "pscim_not-a-code-of-this-organisation"
    monkeypatch.setenv("PROMPT_TEST_CODE", wrong)
    (tmp_path / "example.token").write_text(wrong)

    assert run(graph, "apply", str(path)) == 1

    err = capsys.readouterr().err
    assert "the SCIM endpoint rejected the Secret Token" in err
    assert hint in err
    assert "rotate-token" not in err
    assert wrong not in err


def test_refused_issued_token_points_at_rotate_token_and_the_two_urls(
    graph: Graph,
    prompt_service: PromptService,
    migrated_database: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # prompt.scim_url leads to another SCIM service than prompt.admin_url.
    other_db = tmp_path / "other.db"
    other_db.write_bytes(migrated_database.read_bytes())
    other_store = Store.open(f"sqlite:///{other_db}")
    settings = Settings(database_url="sqlite://", admin_key=ADMIN_KEY)
    path = example(tmp_path, prompt_service, "{issue: true}")
    with ServerThread(create_app(settings, store=other_store)) as other:
        text = path.read_text()
        path.write_text(
            text.replace(f"{prompt_service.url}/scim/v2", f"{other.url}/scim/v2")
        )

        assert run(graph, "apply", str(path)) == 1
    other_store.close()

    err = capsys.readouterr().err
    assert "issue a new code with prompt-provision rotate-token example; if a " in err
    assert "prompt.scim_url and prompt.admin_url are not the same SCIM service" in err
