"""The whole toolkit on loopback: SCIM service, Entra emulator, provisioning engine.

The SCIM service (SQLite file) and the emulator each run under uvicorn in a thread;
the engine runs through its CLI function. A pass-through ASGI wrapper keeps a log
of the SCIM requests as they arrived on the wire (the service itself is unchanged).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import uvicorn

from entra_emulator import Emulator, EmulatorConfig
from provisioning.cli import main as prompt_provision
from provisioning.entra import Timings
from scim_service.api.app import create_app
from scim_service.settings import Settings
from scim_service.storage import Store

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
SLUG = "example"
PROMPT_EXT = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"
FLAG = "aadOptscim062020"
# The emulator is consistent at once: no need to wait for Entra's replication.
FAST = Timings(
    attempts=8, first_delay=0.05, max_delay=0.3, visible_reads=1, read_interval=0.01
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def person(nick: str, **extra: Any) -> dict[str, Any]:
    """A directory user nick@example.org with the properties the mappings read."""
    given, _, family = nick.partition(".")
    family = family or "Example"
    return {
        "userPrincipalName": f"{nick}@example.org",
        "displayName": f"{given.title()} {family.title()}",
        "givenName": given.title(),
        "surname": family.title(),
        "mail": f"{nick}@example.org",
        "department": "Cardiology",
        **extra,
    }


# organisations/example.yaml assigns alice directly and the group "Prompt Users".
SEED: dict[str, Any] = {
    "users": [
        person("alice"),  # assigned directly
        person("bob"),  # member of Prompt Users
        person("carol"),  # member of Prompt Users
        person("dave", accountEnabled=False),  # member, disabled: never created
        person("erin"),  # not assigned at all
        person("frank"),  # only in Contractors, a group nested in Prompt Users
    ],
    "groups": [
        {"displayName": "Contractors", "members": ["frank@example.org"]},
        {
            "displayName": "Prompt Users",
            "members": [
                "bob@example.org",
                "carol@example.org",
                "dave@example.org",
                "Contractors",
            ],
        },
    ],
}
ASSIGNED_ENABLED = ["alice@example.org", "bob@example.org", "carol@example.org"]


@dataclass
class Wire:
    """One SCIM request as the service received it."""

    method: str
    path: str
    query: str
    body: Any
    status: int


class WireLog:
    """ASGI pass-through that records SCIM requests (method, path, body, status)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[Wire] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/scim/"):
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        status: list[int] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, recording_receive, recording_send)
        raw = b"".join(chunks)
        wire = Wire(
            method=scope["method"],
            path=scope["path"],
            query=unquote_plus(scope.get("query_string", b"").decode()),
            body=json.loads(raw) if raw else None,
            status=status[0] if status else 0,
        )
        with self.lock:
            self.requests.append(wire)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def writes(self) -> list[Wire]:
        """Requests that may change something (everything but GET)."""
        with self.lock:
            return [r for r in self.requests if r.method != "GET"]


class ServerThread:
    """uvicorn serving an ASGI app on a free loopback port in a daemon thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the SCIM service did not start within 10 s")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Stack:
    """Live parts and the handles the tests act and observe through."""

    emulator: Emulator
    emulator_url: str
    prompt_url: str
    store: Store
    wire: WireLog
    org_file: Path
    flag: bool
    _reader: httpx.Client | None = field(default=None, repr=False)

    @property
    def graph_url(self) -> str:
        return f"{self.emulator_url}/v1.0"

    def provision(self, *args: str) -> int:
        """Run `prompt-provision` (its CLI function) against the emulator's Graph."""
        base = ["--graph-url", self.graph_url, "--credential", "anonymous"]
        return prompt_provision([*base, *args], timings=FAST)

    def apply(self) -> None:
        code = self.provision("apply", str(self.org_file))
        assert code == 0, "prompt-provision apply failed"

    # -- the emulator, through its admin API ------------------------------------

    def emu(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method, f"{self.emulator_url}/_emulator{path}", json=body, timeout=60
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def job_id(self) -> str:
        (job,) = self.emu("GET", "/jobs")["value"]
        return str(job["id"])

    def cycle(self) -> dict[str, Any]:
        """Run one provisioning cycle now; return the emulator's summary."""
        summary: dict[str, Any] = self.emu("POST", f"/jobs/{self.job_id()}/cycle")
        return summary

    # -- Prompt, through its admin API and SCIM with a code of our own ----------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method,
            f"{self.prompt_url}/admin{path}",
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=30,
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    @property
    def reader(self) -> httpx.Client:
        """A SCIM client with a code issued to the test (not Entra's)."""
        if self._reader is None:
            issued = self.admin("POST", f"/organisations/{SLUG}/tokens", {"label": "t"})
            self._reader = httpx.Client(
                base_url=f"{self.prompt_url}/scim/v2",
                headers={"Authorization": f"Bearer {issued['secret']}"},
                timeout=30,
            )
        return self._reader

    def users(self) -> dict[str, dict[str, Any]]:
        """Every live Prompt user of the organisation, by userName."""
        body = self.reader.get("/Users", params={"count": 1000}).json()
        return {u["userName"]: u for u in body["Resources"]}

    def find(self, user_name: str) -> list[dict[str, Any]]:
        response = self.reader.get(
            "/Users", params={"filter": f'userName eq "{user_name}"'}
        )
        assert response.status_code == 200, response.text
        resources: list[dict[str, Any]] = response.json()["Resources"]
        return resources

    def audit(self, **params: Any) -> list[dict[str, Any]]:
        """Audit events of the organisation, oldest first."""
        page = self.admin("GET", f"/organisations/{SLUG}/audit?limit=1000")
        if params:
            query = "&".join(f"{k}={v}" for k, v in params.items())
            page = self.admin("GET", f"/organisations/{SLUG}/audit?{query}")
        events: list[dict[str, Any]] = page["events"]
        return list(reversed(events))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def org_file(directory: Path, prompt_url: str, *, flag: bool) -> Path:
    """organisations/example.yaml pointed at the live service (Tenant URL flagged)."""
    text = (ROOT / "organisations" / "example.yaml").read_text(encoding="utf-8")
    scim_line = "scim_url: https://prompt.example.com/scim/v2"
    assert scim_line in text, "organisations/example.yaml changed its scim_url"
    if flag:
        text = text.replace(scim_line, f"{scim_line}?{FLAG}")
    path = directory / "example.yaml"
    path.write_text(text.replace("https://prompt.example.com", prompt_url))
    return path


def emulator_config() -> EmulatorConfig:
    # No scheduled cycles: the tests run each cycle themselves.
    return EmulatorConfig(cycle_interval=3600.0, concurrency=4)


def start_scim(tmp_path: Path) -> tuple[Store, WireLog, ServerThread]:
    store = Store.open(f"sqlite:///{tmp_path / 'prompt-scim.db'}")
    store.migrate()
    settings = Settings(
        database_url="sqlite://", admin_key=ADMIN_KEY, log_level="WARNING"
    )
    wire = WireLog(create_app(settings, store=store))
    return store, wire, ServerThread(wire)
