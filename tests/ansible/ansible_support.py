"""Helpers of the Ansible tests: real ansible-playbook runs from .venv/bin.

Not a conftest.py: test modules elsewhere import `conftest` by name, and a second
conftest module here would shadow theirs.

Every run uses playbooks/ansible.cfg, a private ANSIBLE_HOME and organisation files
generated into a temporary folder; the Entra emulator and the Prompt SCIM service
serve on loopback from threads of the test process.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
BIN = Path(sys.executable).parent
INVENTORY = "playbooks/inventory/organisations.yml"

TENANT_ID = "7f3c2a10-5b6d-4e8f-9a01-23456789abcd"
ADMIN_KEY = "ansible-tests-admin-key-0123456789abcdef"

_RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)\s+"
    r"skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)",
    re.MULTILINE,
)


@dataclass
class Run:
    """One finished ansible run."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP counters per organisation host.

        localhost (the playbooks' selection check) is left out.
        """
        return {
            m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
            for m in _RECAP.finditer(self.stdout)
            if m["host"] != "localhost"
        }

    def explain(self) -> str:
        """Everything a failing assertion should show."""
        return f"$ {' '.join(self.command)}\n{self.stdout}\n{self.stderr}"


def ansible_environment(home: Path, **extra: str) -> dict[str, str]:
    """Environment of an ansible run: this repo's config, nothing in ~/.ansible."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "PROMPT_", "AZURE_"))
    }
    env.update(
        ANSIBLE_CONFIG=str(PLAYBOOKS / "ansible.cfg"),
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        # Where local-connection modules are copied; by default ~/.ansible/tmp.
        ANSIBLE_REMOTE_TEMP=str(home / "remote-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        **extra,
    )
    return env


def run_tool(env: dict[str, str], tool: str, *args: str) -> Run:
    """Run an ansible executable of .venv/bin from the repository root."""
    command = [str(BIN / tool), *args]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - started
    return Run(command, done.returncode, done.stdout, done.stderr, seconds)


def ansible_runner(tmp_path: Path) -> Callable[..., Run]:
    """Return a function running an ansible tool with the test environment."""
    base = ansible_environment(tmp_path / "ansible-home")

    def run(tool: str, *args: str, env: dict[str, str] | None = None) -> Run:
        return run_tool({**base, **(env or {})}, tool, *args)

    return run


def organisation_yaml(
    slug: str,
    *,
    scim_url: str = "http://127.0.0.1:9/scim/v2",
    admin_url: str | None = None,
    token: str = "{env: PROMPT_TOKEN_UNUSED}",
    tenant_id: str = TENANT_ID,
    users: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
) -> str:
    """Text of one organisation file (the spec module is the authority)."""
    lines = [
        f"organisation: {slug}",
        f"display_name: Org {slug}",
        "prompt:",
        f"  scim_url: {scim_url}",
        *([f"  admin_url: {admin_url}"] if admin_url else []),
        f"  token: {token}",
        "  default_department: Nursing",
        '  default_section: "Ward 3"',
        "entra:",
        f"  tenant_id: {tenant_id}",
        "assignments:",
        f"  users: [{', '.join(users)}]",
        f"  groups: [{', '.join(repr(g) for g in groups)}]",
    ]
    return "\n".join(lines) + "\n"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yield its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class Landscape:
    """Emulator + SCIM service on loopback, organisation files, ansible runs."""

    emulator: Any
    graph_url: str
    prompt_url: str
    store: Any
    folder: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def admin_url(self) -> str:
        return f"{self.prompt_url}/admin"

    @property
    def scim_url(self) -> str:
        return f"{self.prompt_url}/scim/v2"

    def add_organisation(self, slug: str, **overrides: Any) -> Path:
        """Write an organisation file whose users exist in the emulator."""
        users = overrides.pop("users", None)
        if users is None:
            users = tuple(f"{name}@{slug}.example" for name in ("ada", "alan"))
            for upn in users:
                self.emulator.add_user(
                    userPrincipalName=upn,
                    displayName=upn.split("@")[0].title(),
                    mail=upn,
                    givenName=upn.split("@")[0].title(),
                    surname=slug.title(),
                )
        text = organisation_yaml(
            slug,
            scim_url=overrides.pop("scim_url", self.scim_url),
            admin_url=overrides.pop("admin_url", self.admin_url),
            token=overrides.pop("token", "{issue: true}"),
            users=users,
            **overrides,
        )
        path = self.folder / f"{slug}.yaml"
        path.write_text(text)
        return path

    def playbook(self, name: str, *args: str, **env: str | None) -> Run:
        """Run playbooks/<name> on the generated organisations (env None: unset)."""
        merged = {**self.env, **env}
        return run_tool(
            {key: value for key, value in merged.items() if value is not None},
            "ansible-playbook",
            "-i",
            INVENTORY,
            f"playbooks/{name}",
            *args,
        )


@contextmanager
def landscape(root: Path) -> Iterator[Landscape]:
    """Start the emulator and the SCIM service; point the playbooks at them."""
    from entra_emulator.server import Emulator, EmulatorConfig
    from scim_service.api.app import create_app
    from scim_service.settings import Settings
    from scim_service.storage import Store

    database_url = f"sqlite:///{root / 'prompt-scim.db'}"
    store = Store.open(database_url)
    store.migrate()
    emulator = Emulator(EmulatorConfig(tenant_id=TENANT_ID))
    folder = root / "organisations"
    folder.mkdir()
    settings = Settings(database_url=database_url, admin_key=ADMIN_KEY)
    try:
        with (
            emulator.serve_in_thread() as graph_base,
            serving(create_app(settings, store=store)) as prompt_url,
        ):
            env = ansible_environment(
                root / "ansible-home",
                PROMPT_ORGANISATIONS_PATH=str(folder),
                PROMPT_GRAPH_URL=f"{graph_base}/v1.0",
                PROMPT_GRAPH_CREDENTIAL="anonymous",
                PROMPT_SCIM_ADMIN_KEY=ADMIN_KEY,
            )
            yield Landscape(
                emulator, f"{graph_base}/v1.0", prompt_url, store, folder, env
            )
    finally:
        store.close()
