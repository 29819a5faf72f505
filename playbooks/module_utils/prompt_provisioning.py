"""Shared code of the prompt_organisation* Ansible modules.

Adapts the provisioning engine (plan, apply, status, destroy) to module results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.basic import env_fallback

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
CREDENTIALS = ["default", "client-secret", "workload-identity", "anonymous"]

COMMON_ARGUMENTS: dict[str, dict[str, Any]] = {
    "graph_url": {
        "type": "str",
        "default": DEFAULT_GRAPH_URL,
        "fallback": (env_fallback, ["PROMPT_GRAPH_URL"]),
    },
    "graph_credential": {
        "type": "str",
        "choices": CREDENTIALS,
        "default": "default",
        "fallback": (env_fallback, ["PROMPT_GRAPH_CREDENTIAL"]),
    },
    "prompt_admin_key": {
        "type": "str",
        "no_log": True,
        "fallback": (env_fallback, ["PROMPT_SCIM_ADMIN_KEY"]),
    },
}


class EngineFailure(Exception):  # noqa: N818 - STYLE.md: named by what failed
    """The engine refused or failed; the message is the engine's actionable one."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


@dataclass
class Outcome:
    """What a plan or apply of one organisation amounts to."""

    organisation: str
    changes: list[dict[str, Any]]
    writes: int
    check: bool
    application: dict[str, Any] | None = None

    def result(self) -> dict[str, Any]:
        """Return the module result (changed exactly when something was written)."""
        changed = bool(self.changes) if self.check else self.writes > 0
        result: dict[str, Any] = {
            "changed": changed,
            "organisation": self.organisation,
            "summary": self.summary(),
            "changes": self.changes,
            "writes": self.writes,
        }
        if self.application:
            result["application"] = self.application
        return result

    def summary(self) -> str:
        """Say in one line what happened."""
        count = len(self.changes)
        if not count:
            return "in shape"
        noun = "change" if count == 1 else "changes"
        verb = "would apply" if self.check else "applied"
        return f"{verb} {count} {noun}"


@dataclass
class StatusReport:
    """The status of one organisation."""

    organisation: str
    status: dict[str, Any]
    problems: list[str]
    drift: list[dict[str, Any]] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        """Return the module result (never changed)."""
        healthy = not self.problems
        state = self.status.get("job_state") or "no job"
        summary = "healthy" if healthy else "UNHEALTHY: " + "; ".join(self.problems)
        return {
            "changed": False,
            "organisation": self.organisation,
            "healthy": healthy,
            "problems": self.problems,
            "summary": f"{summary} (job {state})",
            "status": self.status,
            "drift": self.drift,
        }


def diff_of(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """Render the plan's changes as one before/after pair Ansible can show."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for change in changes:
        key = f"{change.get('target', '')}: {change.get('description', '')}".strip()
        before[key] = change.get("before")
        after[key] = change.get("after")
    return {
        "before": before,
        "after": after,
        "before_header": "current",
        "after_header": "desired (organisation file)",
    }
