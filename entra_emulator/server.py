"""The in-process emulator: tenant state, a thread-safe Python admin API, and a server.

Tests use it directly (`Emulator().serve_in_thread()` yields the base URL) or through
the HTTP admin API under /_emulator that wraps the same methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from .directory import Directory, Group, User
from .errors import EmulatorError, NotFound
from .faults import Fault, FaultBook, fault_from_json
from .jobs import Job

logger = logging.getLogger(__name__)

MASK = "*"
SECRET_KEYS = {"SecretToken", "Password", "ClientSecret", "Oauth2ClientSecret"}


@dataclass
class EmulatorConfig:
    """Knobs of the emulated provisioning service (defaults like Entra's)."""

    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    cycle_interval: float = 2400.0  # Entra runs incremental cycles every 40 minutes
    cycle_on_start: bool = False  # run the initial cycle right after start
    concurrency: int = 8  # users in flight per cycle (Entra's figure is undocumented)
    on_demand_limit: int = 5  # provisionOnDemand: 5 requests per 10 seconds
    on_demand_window: float = 10.0
    scim_timeout: float = 30.0


class Emulator:
    """All state of one emulated tenant. Every mutation holds `lock`."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        seed: dict[str, Any] | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.lock = threading.RLock()
        self.faults = FaultBook()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._seed = copy.deepcopy(seed) if seed else {"users": [], "groups": []}
        self.reset()

    def reset(self, *, keep_directory: bool = False) -> None:
        """Forget apps, jobs, logs, faults and counters; reload the seed directory."""
        with self.lock:
            self.applications: dict[str, dict[str, Any]] = {}
            self.service_principals: dict[str, dict[str, Any]] = {}
            self.jobs: dict[str, Job] = {}
            self.secrets: dict[str, list[dict[str, str]]] = {}
            self.assignments: dict[str, dict[str, Any]] = {}
            self.logs: list[dict[str, Any]] = []
            self.write_counts: Counter[str] = Counter()
            self.request_counts: Counter[str] = Counter()
            self.faults.clear()
            if not keep_directory:
                from .seed import load_into

                self.directory = Directory()
                load_into(self.directory, self._seed)

    # -- directory, as the tenant admin would change it ---------------------------

    def add_user(self, **properties: Any) -> dict[str, Any]:
        with self.lock:
            return self.directory.add_user(properties).admin_json()

    def update_user(self, ref: str, **changes: Any) -> dict[str, Any]:
        with self.lock:
            return self.directory.update_user(ref, changes).admin_json()

    def disable_user(self, ref: str) -> dict[str, Any]:
        return self.update_user(ref, accountEnabled=False)

    def enable_user(self, ref: str) -> dict[str, Any]:
        return self.update_user(ref, accountEnabled=True)

    def soft_delete_user(self, ref: str) -> dict[str, Any]:
        """Move a user to the recycle bin (assignments are kept for a restore)."""
        with self.lock:
            user = self.directory.user(ref)
            user.soft_deleted = True
            return user.admin_json()

    def restore_user(self, ref: str) -> dict[str, Any]:
        with self.lock:
            user = self.directory.user(ref, include_deleted=True)
            user.soft_deleted = False
            return user.admin_json()

    def hard_delete_user(self, ref: str) -> dict[str, Any]:
        """Delete a user for good, with its app role assignments."""
        with self.lock:
            user = self.directory.hard_delete_user(ref)
            self._drop_assignments_of(user.id)
            return user.admin_json()

    def add_group(
        self, display_name: str, members: list[str] | None = None
    ) -> dict[str, Any]:
        with self.lock:
            return self.directory.add_group(display_name, members or []).admin_json()

    def add_member(self, group: str, member: str) -> dict[str, Any]:
        with self.lock:
            return self.directory.add_member(group, member).admin_json()

    def remove_member(self, group: str, member: str) -> dict[str, Any]:
        with self.lock:
            return self.directory.remove_member(group, member).admin_json()

    def delete_group(self, ref: str) -> dict[str, Any]:
        with self.lock:
            group = self.directory.delete_group(ref)
            self._drop_assignments_of(group.id)
            return group.admin_json()

    def user(self, ref: str) -> User:
        with self.lock:
            return self.directory.user(ref, include_deleted=True)

    def group(self, ref: str) -> Group:
        with self.lock:
            return self.directory.group(ref)

    def _drop_assignments_of(self, principal_id: str) -> None:
        for aid in [
            a for a, v in self.assignments.items() if v["principalId"] == principal_id
        ]:
            del self.assignments[aid]

    # -- faults and counters --------------------------------------------------------

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule (see entra_emulator.faults.Fault) and return it."""
        fault: Fault = self.faults.add(fault_from_json(rule))
        return fault.to_json()

    def clear_faults(self) -> None:
        self.faults.clear()

    def writes(self) -> dict[str, Any]:
        """Return state-changing Graph requests so far, per route and in total."""
        with self.lock:
            return {
                "total": sum(self.write_counts.values()),
                "byRoute": dict(self.write_counts),
            }

    def reset_writes(self) -> None:
        with self.lock:
            self.write_counts.clear()
            self.request_counts.clear()

    # -- state -----------------------------------------------------------------------

    def masked_secrets(self, sp_id: str) -> list[dict[str, str]]:
        """Return a service principal's secrets the way Graph reads them back."""
        with self.lock:
            return [
                {
                    "key": s["key"],
                    "value": MASK if s["key"] in SECRET_KEYS else s["value"],
                }
                for s in self.secrets.get(sp_id, [])
            ]

    def secret_values(self, sp_id: str) -> dict[str, str]:
        with self.lock:
            return {s["key"]: s["value"] for s in self.secrets.get(sp_id, [])}

    def job(self, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise NotFound(f"No synchronization job {job_id!r} in the emulator.")
            return job

    def state(self) -> dict[str, Any]:
        """Dump everything (secrets masked) for tests and the admin API."""
        with self.lock:
            return {
                "tenantId": self.config.tenant_id,
                "applications": copy.deepcopy(list(self.applications.values())),
                "servicePrincipals": copy.deepcopy(
                    list(self.service_principals.values())
                ),
                "jobs": [
                    {
                        **j.to_json(),
                        "servicePrincipalId": j.sp_id,
                        "schema": copy.deepcopy(j.schema),
                    }
                    for j in self.jobs.values()
                ],
                "secrets": {sp: self.masked_secrets(sp) for sp in self.secrets},
                "assignments": copy.deepcopy(list(self.assignments.values())),
                "users": [u.admin_json() for u in self.directory.users.values()],
                "groups": [g.admin_json() for g in self.directory.groups.values()],
                "faults": [f.to_json() for f in self.faults.rules],
                "writes": self.writes(),
                "provisioningLogCount": len(self.logs),
            }

    # -- provisioning cycles ---------------------------------------------------------

    async def run_cycle(self, job_id: str) -> dict[str, Any]:
        """Run one provisioning cycle of a job now and return its summary."""
        from .provisioner import run_cycle

        return await run_cycle(self, self.job(job_id))

    def cycle(self, job_id: str) -> dict[str, Any]:
        """Run one cycle from a thread that is not the server's (tests, scripts)."""
        loop = self.loop
        if loop is not None and loop.is_running():
            future: Future[dict[str, Any]] = asyncio.run_coroutine_threadsafe(
                self.run_cycle(job_id), loop
            )
            return future.result()
        return asyncio.run(self.run_cycle(job_id))

    def due_jobs(self) -> list[str]:
        """Return started, non-quarantined jobs whose next scheduled cycle is due."""
        now = time.monotonic()
        with self.lock:
            return [
                job.id
                for job in self.jobs.values()
                if job.schedule_state == "Active"
                and job.status_code != "Quarantine"
                and job.runtime.next_cycle_at is not None
                and job.runtime.next_cycle_at <= now
            ]

    # -- serving ---------------------------------------------------------------------

    @contextlib.contextmanager
    def serve_in_thread(self, port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
        """Serve on loopback in a daemon thread; yield the base URL (no /v1.0)."""
        from .app import create_app

        sock = socket.socket()
        sock.bind((host, port))
        bound_port = sock.getsockname()[1]
        config = uvicorn.Config(create_app(self), log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            server.should_exit = True
            sock.close()
            raise EmulatorError(f"The emulator did not start on {host}:{bound_port}.")
        try:
            yield f"http://{host}:{bound_port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
