"""Synchronization jobs: state, schedule and status as Graph's synchronizationJob shows.

Status transitions follow graph.md section 4.4 and 8: a new job is Disabled and
NotConfigured; start makes it Active; pause Paused; a credential failure during a
cycle sets Quarantine until start, restart (QuarantineState) or a successful cycle.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# What a job that never ran shows as its schedule interval (.NET TimeSpan.MaxValue).
TIMESPAN_MAX = "P10675199DT2H48M5.4775807S"
USER_ENTRY_TYPE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def iso_duration(seconds: float) -> str:
    """Render seconds as an ISO 8601 duration (PT40M for 2400)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or text == "PT" else "")


@dataclass
class JobRuntime:
    """What the emulated provisioning service remembers between cycles for a job."""

    # Entra object id -> SCIM id, cached forever once seen (scim-entra.md 1.2).
    target_ids: dict[str, str] = field(default_factory=dict)
    # Users the job currently manages (in scope at their last evaluation).
    managed: set[str] = field(default_factory=set)
    # Entra group object id -> SCIM group id, and the member ids last exported.
    group_ids: dict[str, str] = field(default_factory=dict)
    group_members: dict[str, set[str]] = field(default_factory=dict)
    on_demand_times: list[float] = field(default_factory=list)
    cycle_lock: asyncio.Lock | None = None
    next_cycle_at: float | None = None

    def lock(self) -> asyncio.Lock:
        if self.cycle_lock is None:
            self.cycle_lock = asyncio.Lock()
        return self.cycle_lock


@dataclass
class Job:
    id: str
    sp_id: str
    template_id: str
    schema: dict[str, Any]
    schedule_state: str = "Disabled"
    interval: str = TIMESPAN_MAX
    status_code: str = "NotConfigured"
    quarantine: dict[str, Any] | None = None
    last_execution: dict[str, Any] | None = None
    last_successful_execution: dict[str, Any] | None = None
    last_successful_execution_with_exports: dict[str, Any] | None = None
    successive_failures: int = 0
    steady_first: str | None = None
    steady_last: str | None = None
    synchronized_users: int = 0
    runtime: JobRuntime = field(default_factory=JobRuntime)

    def to_json(self) -> dict[str, Any]:
        """Return the synchronizationJob JSON (graph.md 4.4)."""
        return {
            "id": self.id,
            "templateId": self.template_id,
            "schedule": {
                "expiration": None,
                "interval": self.interval,
                "state": self.schedule_state,
            },
            "status": {
                "code": self.status_code,
                "countSuccessiveCompleteFailures": self.successive_failures,
                "escrowsPruned": False,
                "lastExecution": copy.deepcopy(self.last_execution),
                "lastSuccessfulExecution": copy.deepcopy(
                    self.last_successful_execution
                ),
                "lastSuccessfulExecutionWithExports": copy.deepcopy(
                    self.last_successful_execution_with_exports
                ),
                "progress": [],
                "quarantine": copy.deepcopy(self.quarantine),
                "steadyStateFirstAchievedTime": self.steady_first,
                "steadyStateLastAchievedTime": self.steady_last,
                "synchronizedEntryCountByType": [
                    {"key": USER_ENTRY_TYPE, "value": self.synchronized_users}
                ],
                "troubleshootingUrl": None,
            },
            "synchronizationJobSettings": [
                {"name": "QuarantineTooManyDeletesThreshold", "value": "500"}
            ],
        }

    def start(self, interval_seconds: float) -> None:
        """Turn provisioning on; clears a quarantine like Graph's start does."""
        self.schedule_state = "Active"
        self.interval = iso_duration(interval_seconds)
        self.status_code = "Active"
        self.quarantine = None

    def pause(self) -> None:
        self.schedule_state = "Paused"
        self.status_code = "Paused"

    def restart(self, reset_scope: str) -> None:
        """Apply a restart; an empty scope means Watermark, Escrows, QuarantineState."""
        scopes = {s.strip().lower() for s in reset_scope.split(",") if s.strip()}
        if not scopes or scopes & {"quarantinestate", "full"}:
            self.quarantine = None
            if self.status_code == "Quarantine":
                self.status_code = (
                    "Active" if self.schedule_state == "Active" else "Paused"
                )
        if not scopes or scopes & {"watermark", "full", "connectordatastore"}:
            self.runtime.target_ids.clear()
            self.runtime.group_members.clear()

    def enter_quarantine(self, code: str, message: str) -> None:
        """Quarantine after a credential failure (EncounteredQuarantineException)."""
        now = datetime.now(UTC)
        series = self.quarantine or {}
        self.status_code = "Quarantine"
        self.quarantine = {
            "currentBegan": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nextAttempt": (now + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": "EncounteredQuarantineException",
            "seriesBegan": series.get(
                "seriesBegan", now.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
            "seriesCount": int(series.get("seriesCount", 0)) + 1,
            "error": {
                "code": code,
                "message": message,
                "tenantActionable": True,
            },
        }
