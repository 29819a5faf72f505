"""`prompt-scim`: organisations, tokens, audit, migrate and serve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from scim_service.cli import cli
from tests.scim_api._server import TEST_ACTOR, Service, free_port


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", url, *args])


def test_organisation_commands(sqlite_url: str) -> None:
    created = run(
        sqlite_url,
        "org", "create", "acme",
        "--display-name", "Acme Health",
        "--tenant-id", "11111111-2222-3333-4444-555555555555",
        "--default-department", "Nursing",
        "--default-section", "Ward 3",
        "--provisioning-disabled",
    )  # fmt: skip
    updated = run(
        sqlite_url, "org", "update", "acme", "--provisioning-enabled",
        "--default-section", "",
    )  # fmt: skip
    shown = run(sqlite_url, "org", "show", "acme", "--json")
    listed = run(sqlite_url, "org", "list", "--json")
    text = run(sqlite_url, "org", "list")

    assert created.exit_code == 0, created.output
    assert "default_department:   Nursing" in created.stdout
    assert updated.exit_code == 0, updated.output
    org = json.loads(shown.stdout)
    assert org["provisioning_enabled"] is True
    assert org["default_section"] is None
    assert org["tenant_id"] == "11111111-2222-3333-4444-555555555555"
    assert [o["slug"] for o in json.loads(listed.stdout)] == ["acme"]
    assert "Acme Health" in text.stdout


def test_token_commands_show_secret_once(sqlite_url: str) -> None:
    run(sqlite_url, "org", "create", "acme", "--display-name", "Acme")

    issued = run(sqlite_url, "token", "issue", "acme", "--label", "entra")
    secret = issued.stdout.strip()
    listed = run(sqlite_url, "token", "list", "acme", "--json")
    token_id = json.loads(listed.stdout)[0]["id"]
    revoked = run(sqlite_url, "token", "revoke", "acme", token_id)
    after = json.loads(run(sqlite_url, "token", "list", "acme", "--json").stdout)
    audit = json.loads(run(sqlite_url, "audit", "--org", "acme", "--json").stdout)

    assert issued.exit_code == 0
    assert secret.startswith("pscim_")
    assert "shown only once" in issued.stderr
    assert secret not in listed.stdout
    assert revoked.exit_code == 0
    assert after[0]["revoked"] is not None
    assert [e["action"] for e in audit][:2] == ["token.revoke", "token.issue"]
    assert all(e["actor_kind"] == "cli" for e in audit)
    assert secret not in json.dumps(audit)


def test_audit_shows_scim_changes_with_token_and_request(
    service: Service, sqlite_url: str
) -> None:
    service.organisation("acme")
    issued = service.store.issue_token("acme", actor=TEST_ACTOR)
    with service.client(issued.secret) as scim:
        uid = scim.post(
            "/Users", json={"userName": "au@x.com"}, headers={"X-Request-Id": "r-1"}
        ).json()["id"]
        scim.patch(
            f"/Users/{uid}",
            json={
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
            },
            headers={"X-Request-Id": "r-2"},
        )

    listed = run(sqlite_url, "audit", "--org", "acme", "--resource", uid, "--json")
    text = run(sqlite_url, "audit", "--org", "acme", "--resource", uid)

    assert listed.exit_code == 0, listed.output
    events = json.loads(listed.stdout)
    assert [e["action"] for e in events] == ["resource.patch", "resource.create"]
    assert {e["token_id"] for e in events} == {issued.info.id}
    assert [e["request_id"] for e in events] == ["r-2", "r-1"]
    assert events[0]["before"]["userName"] == "au@x.com"
    assert "active" not in events[0]["before"]
    assert events[0]["after"]["active"] is False
    assert events[1]["before"] is None
    assert all(e["at"] and e["actor_kind"] == "scim" for e in events)
    rows = table_rows(text.stdout)
    assert [r["action"] for r in rows] == ["resource.patch", "resource.create"]
    assert {r["resource"] for r in rows} == {uid}
    assert {r["token"] for r in rows} == {issued.info.id}
    assert [r["request"] for r in rows] == ["r-2", "r-1"]
    assert issued.secret not in listed.stdout + text.stdout


def table_rows(text: str) -> list[dict[str, str]]:
    """Read a CLI table back: cells folded over several lines are joined again."""
    header, *lines = text.splitlines()
    names = header.split()
    starts = [header.index(f" {name} ") + 1 for name in names]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    rows: list[dict[str, str]] = []
    for line in lines:
        cells = [line[start:end].strip() for start, end in bounds]
        if cells[0]:
            rows.append(dict.fromkeys(names, ""))
        row = rows[-1]
        for name, cell in zip(names, cells, strict=True):
            # A folded date/time keeps its space; folded ids do not have one.
            row[name] += (" " if name == "at" and row[name] else "") + cell
    return rows


@pytest.mark.parametrize(
    "args",
    [
        ("org", "show", "nope"),
        ("org", "create", "Bad Slug", "--display-name", "x"),
        ("org", "create", "serviceproviderconfigs", "--display-name", "x"),
        ("token", "issue", "nope"),
        ("token", "revoke", "acme", "tok_00000000"),
        ("audit", "--org", "nope"),
        ("serve", "--workers", "2"),
    ],
)
def test_errors_are_one_line_exit_1(sqlite_url: str, args: tuple[str, ...]) -> None:
    run(sqlite_url, "org", "create", "acme", "--display-name", "Acme")

    result = run(sqlite_url, *args)

    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")


def test_usage_error_exits_2(sqlite_url: str) -> None:
    result = run(sqlite_url, "org", "update", "acme")

    assert result.exit_code == 2
    assert "Nothing to change" in result.stderr


def test_migrate_on_every_database(database_url: str) -> None:
    first = run(database_url, "migrate")
    second = run(database_url, "migrate")
    created = run(database_url, "org", "create", "acme", "--display-name", "A")

    assert first.exit_code == 0, first.output
    assert "newest schema" in first.stdout
    assert second.exit_code == 0
    assert created.exit_code == 0, created.output


def serve(
    url: str, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Start `prompt-scim serve` in a subprocess; return it once /readyz answers."""
    port = free_port()
    script = Path(sys.executable).with_name("prompt-scim")
    environ = {**os.environ, "PROMPT_SCIM_ADMIN_KEY": "k" * 32}
    for name in ("PROMETHEUS_MULTIPROC_DIR", "PROMPT_SCIM_LOG_FORMAT"):
        environ.pop(name, None)
    environ.update(env or {})
    process = subprocess.Popen(
        [str(script), "--database-url", url, "serve", "--port", str(port), *args],
        stderr=subprocess.PIPE,
        env=environ,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError("serve did not start: " + process.stderr.read())  # type: ignore[union-attr]
        time.sleep(0.1)


@pytest.mark.slow
def test_serve_runs_the_service(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    run(url, "org", "create", "acme", "--display-name", "Acme")
    secret = run(url, "token", "issue", "acme").stdout.strip()
    process, base = serve(url)
    try:
        users = httpx.get(
            f"{base}/scim/v2/Users?filter=userName+eq+%22x%40y.z%22",
            headers={"Authorization": f"Bearer {secret}"},
        )
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)

    assert users.status_code == 200
    access = [
        json.loads(line)
        for line in stderr.splitlines()
        if line.startswith("{") and '"scim_service.access"' in line
    ]
    assert any(a["path"] == "/scim/v2/Users" and a["status"] == 200 for a in access)
    assert secret not in stderr
    assert "x%40y.z" not in stderr


@pytest.mark.slow
def test_serve_takes_log_format_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    # serve() has polled /readyz until it answered 200: that line is written.
    process, _ = serve(url, env={"PROMPT_SCIM_LOG_FORMAT": "text"})
    process.terminate()
    _, stderr = process.communicate(timeout=20)

    access = [line for line in stderr.splitlines() if " scim_service.access " in line]
    assert any(" path=/readyz status=200 " in line for line in access), stderr
    assert not any(line.startswith("{") for line in stderr.splitlines())


@pytest.mark.slow
@pytest.mark.postgres
def test_serve_with_two_workers_on_postgresql() -> None:
    from tests.conftest import postgres_database

    with postgres_database("scimserve") as url:
        run(url, "migrate")
        run(url, "org", "create", "acme", "--display-name", "Acme")
        secret = run(url, "token", "issue", "acme").stdout.strip()
        process, base = serve(url, "--workers", "2")
        try:
            headers = {"Authorization": f"Bearer {secret}"}
            with httpx.Client(base_url=base, headers=headers) as client:
                for n in range(10):
                    created = client.post(
                        "/scim/v2/Users", json={"userName": f"w{n}@example.com"}
                    )
                    assert created.status_code == 201
            with httpx.Client(base_url=base, headers=headers) as client:
                listed = client.get("/scim/v2/Users").json()
                metrics = client.get("/metrics").text
        finally:
            process.terminate()
            process.communicate(timeout=30)

    assert listed["totalResults"] == 10
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("prompt_scim_requests_total{")
        and 'method="POST"' in line
        and 'status="201"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) == 10
