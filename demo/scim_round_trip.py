"""The SCIM service alone through an Entra-shaped round trip (`make demo-scim`).

Starts `prompt-scim serve` on an embedded SQLite store in a temporary directory,
creates an organisation and a Provisioning Authentication Code through the admin
API, then sends what Entra's provisioning service sends: the test-connection
probe, POST, GET by userName, PATCH active "False", DELETE, and a re-create that
re-attaches the archived user. Stops everything and exits 0 when all went right.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

console = Console(highlight=False)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROMPT = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class DemoFailedError(Exception):
    """A step did not answer what Entra expects."""


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_service(workdir: Path, port: int, admin_key: str) -> subprocess.Popen[str]:
    """Run `prompt-scim serve` (uvicorn) on the embedded SQLite store."""
    env = {
        **os.environ,
        "PROMPT_SCIM_DATABASE_URL": f"sqlite:///{workdir / 'prompt-scim.db'}",
        "PROMPT_SCIM_ADMIN_KEY": admin_key,
    }
    command = [
        sys.executable,
        "-c",
        "from scim_service.cli import main; main()",
        "serve",
        "--port",
        str(port),
        "--log-format",
        "text",
    ]
    log = (workdir / "service.log").open("w")
    return subprocess.Popen(command, env=env, stderr=log, stdout=log, text=True)


def wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    """Poll /readyz until the service answers (at most 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoFailedError("the service exited during start-up; see service.log")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise DemoFailedError("the service did not become ready within 30 s")


class Steps:
    """Print each request and check the answer Entra needs."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def note(self, text: str) -> None:
        """Say what the last answer shows (once its body is known)."""
        self.rows[-1][3] = text

    def table(self) -> Table:
        """Every step as a rich table."""
        table = Table("step", "request", "answer", "what it shows", expand=True)
        for row in self.rows:
            table.add_row(*row)
        return table

    def check(
        self,
        step: str,
        response: httpx.Response,
        expected: int,
        note: str,
    ) -> dict[str, Any]:
        request = response.request
        # Decoded for reading: Entra sends + for spaces and %22 for quotes.
        path = unquote_plus(request.url.raw_path.decode()).removeprefix("/scim/v2")
        shown = path if len(path) < 60 else path[:57] + "..."
        ok = response.status_code == expected
        status = f"[{'green' if ok else 'red'}]{response.status_code}[/]"
        self.rows.append([step, f"{request.method} {shown}", status, note])
        if not ok:
            raise DemoFailedError(
                f"{step}: expected {expected}, got {response.status_code}: "
                f"{response.text[:300]}"
            )
        body: dict[str, Any] = response.json() if response.content else {}
        return body


def entra_user(user_name: str, object_id: str) -> dict[str, Any]:
    """A POST body shaped like Entra's (nulls and read-only meta included)."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": object_id,
        "userName": user_name,
        "active": True,
        "displayName": "Adele Vance",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "Adele Vance",
            "familyName": "Vance",
            "givenName": "Adele",
        },
        "roles": [],
        "title": None,
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    """A PatchOp in Entra's legacy shape."""
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def round_trip(base: str, admin_key: str) -> Steps:
    """Set up the organisation, then replay Entra's requests."""
    steps = Steps()
    admin = httpx.Client(
        base_url=f"{base}/admin",
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=10,
    )
    org = steps.check(
        "Prompt: create organisation",
        admin.post(
            "/organisations",
            json={
                "slug": "acme",
                "display_name": "Acme Health",
                "tenant_id": str(uuid.uuid4()),
                "default_department": "Nursing",
                "default_section": "Ward 3",
            },
        ),
        201,
        "SSO + provisioning on; defaults Nursing / Ward 3",
    )
    issued = steps.check(
        "Prompt: issue token",
        admin.post("/organisations/acme/tokens", json={"label": "entra"}),
        201,
        "",
    )
    steps.note(
        f"Provisioning Authentication Code, shown once (id {issued['token']['id']})"
    )

    scim = httpx.Client(
        base_url=f"{base}/scim/v2",
        headers={
            "Authorization": f"Bearer {issued['secret']}",
            "Content-Type": "application/scim+json; charset=utf-8",
        },
        timeout=10,
    )
    user_name = "AdeleV@acme.example"
    object_id = str(uuid.uuid4())

    probe = steps.check(
        "Entra: test connection",
        scim.get(f"/Users?filter=userName+eq+%22{uuid.uuid4()}%22"),
        200,
        "random GUID -> empty ListResponse",
    )
    _expect(probe["totalResults"] == 0, "the probe must find nothing")
    steps.check(
        "Entra: test connection",
        scim.get(
            f"/Groups?excludedAttributes=members&filter=displayName+eq+%22{uuid.uuid4()}%22"
        ),
        200,
        "Groups probe answers too",
    )
    miss = steps.check(
        "Entra: match user",
        scim.get(f"/Users?filter=userName+eq+%22{user_name}%22"),
        200,
        "not in Prompt yet",
    )
    _expect(miss["totalResults"] == 0, "the user must not exist yet")
    created = steps.check(
        "Entra: create user",
        scim.post("/Users", json=entra_user(user_name, object_id)),
        201,
        "",
    )
    steps.note(
        f"id {created['id'][:8]}..., lands in "
        f"{created[PROMPT]['department']} / {created[PROMPT]['section']}"
    )
    hit = steps.check(
        "Entra: match user",
        scim.get(f"/Users?filter=userName+eq+%22{user_name.lower()}%22"),
        200,
        "userName compared case-insensitively",
    )
    _expect(hit["totalResults"] == 1, "the user must be found")
    moved = steps.check(
        "Prompt: move user",
        scim.patch(
            f"/Users/{created['id']}",
            json=patch(
                {"op": "Replace", "path": f"{PROMPT}:department", "value": "ICU"}
            ),
        ),
        200,
        "department ICU",
    )
    disabled = steps.check(
        "Entra: disable user",
        scim.patch(
            f"/Users/{created['id']}",
            json=patch({"op": "Replace", "path": "active", "value": "False"}),
        ),
        200,
        'active "False" (string) -> false, still visible',
    )
    _expect(disabled["active"] is False, "active must be false")
    _expect(moved[PROMPT]["department"] == "ICU", "the department must change")
    steps.check(
        "Entra: delete user",
        scim.delete(f"/Users/{created['id']}"),
        204,
        "archived, not destroyed",
    )
    steps.check(
        "Entra: get deleted",
        scim.get(f"/Users/{created['id']}"),
        404,
        "gone for SCIM",
    )
    again = steps.check(
        "Entra: create again",
        scim.post("/Users", json=entra_user(user_name, object_id)),
        201,
        "",
    )
    _expect(again["id"] == created["id"], "the archived user must be re-attached")
    steps.note(f"re-attached: same id, department {again[PROMPT]['department']} kept")
    audit = steps.check(
        "Prompt: audit trail",
        admin.get("/organisations/acme/audit", params={"limit": 20}),
        200,
        "",
    )
    actions = [event["action"] for event in reversed(audit["events"])]
    steps.note(", ".join(actions))
    _expect(org["slug"] == "acme", "organisation slug")
    return steps


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise DemoFailedError(what)


def main() -> int:
    """Run the demo; return the process exit code."""
    console.print(
        Panel.fit(
            "Prompt SCIM 2.0 service - Entra ID provisioning round trip\n"
            "embedded SQLite store in a temporary directory",
            style="bold",
        )
    )
    admin_key = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="prompt-scim-demo-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = start_service(workdir, port, admin_key)
        try:
            wait_ready(base, process)
            console.print(f"service up at {base} (SCIM base {base}/scim/v2)")
            steps = round_trip(base, admin_key)
            console.print(steps.table())
        except (DemoFailedError, httpx.HTTPError) as exc:
            console.print(f"[red]Demo failed:[/] {exc}")
            console.print((workdir / "service.log").read_text()[-3000:])
            return 1
        finally:
            process.terminate()
            process.wait(timeout=20)

    console.print("[green]Round trip complete; service stopped.[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
