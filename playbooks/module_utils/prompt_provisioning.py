"""Shared code of the prompt_organisation* Ansible modules.

Adapts the provisioning engine (plan, apply, status, destroy) to module results.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from ansible.module_utils.basic import env_fallback

T = TypeVar("T")

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


class EngineFailure(Exception):
    """The engine refused or failed; the message is the engine's actionable one."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class _LogLines(logging.Handler):
    """Keep the engine's INFO and WARNING lines (one per external change, retries)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@dataclass
class Outcome:
    """What a plan or apply of one organisation amounts to."""

    organisation: str
    changes: list[dict[str, Any]]
    writes: int
    check: bool
    application: dict[str, Any] | None = None
    engine_log: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        """Return the module result (changed exactly when something was written)."""
        changed = bool(self.changes) if self.check else self.writes > 0
        result: dict[str, Any] = {
            "changed": changed,
            "organisation": self.organisation,
            "summary": self.summary(),
            "changes": self.changes,
            "writes": self.writes,
            "engine_log": self.engine_log,
        }
        if self.application:
            result["application"] = self.application
        return result

    def summary(self) -> str:
        """Say in one line what happened."""
        count = len(self.changes)
        if not count:
            return "no changes"
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
    engine_log: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        """Return the module result (never changed)."""
        healthy = not self.problems
        state = self.status.get("state") or "-"
        summary = "healthy" if healthy else "UNHEALTHY: " + "; ".join(self.problems)
        if self.drift:
            summary += f", {len(self.drift)} pending change(s)"
        return {
            "changed": False,
            "organisation": self.organisation,
            "healthy": healthy,
            "problems": self.problems,
            "summary": f"{summary} (job {state})",
            "status": self.status,
            "drift": self.drift,
            "engine_log": self.engine_log,
        }


def diff_of(
    changes: list[dict[str, Any]], desired: str = "organisation file"
) -> dict[str, Any]:
    """Render the plan's changes as before/after text Ansible shows with --diff."""
    before: list[str] = []
    after: list[str] = []
    for change in changes:
        head = f"{change['step']}: {change['target']}"
        old, new = _sides(change["action"], change.get("details") or [])
        before += [head, *old]
        after += [head, *new]
    return {
        "before": "".join(f"{line}\n" for line in before),
        "after": "".join(f"{line}\n" for line in after),
        "before_header": "current (Prompt, Entra)",
        "after_header": f"desired ({desired})",
    }


_ARROW = re.compile(r"^(?P<name>[^:]+): (?P<old>.*) -> (?P<new>.*)$")
_WANT = re.compile(r"^(?P<what>.*) is (?P<old>.*) \(want (?P<new>.*)\)$")


def _sides(action: str, details: list[str]) -> tuple[list[str], list[str]]:
    """Split a change's details into current and desired lines."""
    listed = [f"  {detail}" for detail in details]
    if action in ADDING_ACTIONS:
        return ["  (absent)"], listed or ["  (present)"]
    if action in REMOVING_ACTIONS:
        return listed or ["  (present)"], ["  (absent)"]

    old: list[str] = []
    new: list[str] = []
    for detail in details:
        arrow, want = _ARROW.match(detail), _WANT.match(detail)
        if arrow:
            old.append(f"  {arrow['name']}: {arrow['old']}")
            new.append(f"  {arrow['name']}: {arrow['new']}")
        elif want:
            old.append(f"  {want['what']} is {want['old']}")
            new.append(f"  {want['what']} is {want['new']}")
        else:
            new.append(f"  {detail}")
    if not old:
        old.append(f"  (differs: {action} pending)")
    return old, new


ADDING_ACTIONS = frozenset({"create", "issue", "assign"})
REMOVING_ACTIONS = frozenset({"delete", "unassign"})


def engine_from_params(params: dict[str, Any]) -> Engine:
    """Build the engine adapter from the module's (common) parameters."""
    return Engine(
        graph_url=params["graph_url"],
        credential=params["graph_credential"],
        admin_key=params.get("prompt_admin_key") or None,
    )


@dataclass
class Engine:
    """Runs the provisioning engine for one organisation file per call."""

    graph_url: str
    credential: str
    admin_key: str | None = field(default=None, repr=False)

    def run(self, path: str, *, state: str, check: bool) -> Outcome:
        """Plan, and unless `check`, apply (state present) or destroy (absent)."""
        engine = _import_engine()
        spec = _load(engine, path)
        step = self._present if state == "present" else self._absent
        outcome, log = self._call(engine, spec, step(engine, Path(path), spec, check))
        outcome.engine_log = log
        return outcome

    def status(self, path: str) -> StatusReport:
        """Read the organisation's provisioning status and pending drift."""
        engine = _import_engine()
        spec = _load(engine, path)
        report, log = self._call(engine, spec, self._status(engine, Path(path), spec))
        report.engine_log = log
        return report

    def _call(
        self, engine: Any, spec: Any, coroutine: Coroutine[Any, Any, T]
    ) -> tuple[T, list[str]]:
        """Run one engine coroutine; return its result and the engine's log lines."""
        collector = _LogLines()
        logger = logging.getLogger("provisioning")
        logger.addHandler(collector)
        logger.setLevel(logging.INFO)
        try:
            result = asyncio.run(coroutine)
        except engine.ProvisioningError as error:
            # An apply that stopped part-way may have written the first changes;
            # the engine says which when it can (ApplyFailed.done).
            done = [_change(c) for c in getattr(error, "done", None) or []]
            raise EngineFailure(
                str(error),
                organisation=spec.organisation,
                changed=bool(done),
                changes=done,
                engine_log=collector.lines,
            ) from None
        finally:
            logger.removeHandler(collector)

        return result, collector.lines

    async def _present(
        self, engine: Any, path: Path, spec: Any, check: bool
    ) -> Outcome:
        async with self._session(engine) as session:
            entra, graph, prompt = session.entra, session.graph, session.prompt(spec)
            plan = await engine.plan_organisation(path, spec, entra, graph, prompt)
            changes = [_change(c) for c in plan.changes]
            if check or not plan.changes:
                return Outcome(spec.organisation, changes, 0, check, _app(plan.app))

            applied = await engine.apply_plan(plan, entra, graph, prompt)
            done = [_change(c) for c in applied.done]
            writes = sum(1 for c in applied.done if c.action not in READ_ONLY_ACTIONS)
            app = plan.app or await entra.find_app(spec.organisation)
            return Outcome(spec.organisation, done, writes, check, _app(app))

    async def _absent(self, engine: Any, path: Path, spec: Any, check: bool) -> Outcome:
        async with self._session(engine) as session:
            entra, prompt = session.entra, session.prompt(spec)
            pending = await _destroy_plan(spec, entra, prompt)
            changes = [_removal(line) for line in pending]
            if check or not pending:
                return Outcome(spec.organisation, changes, 0, check, None)

            done = await engine.destroy(spec, entra, prompt)
            return Outcome(
                spec.organisation, [_removal(line) for line in done], len(done), check
            )

    async def _status(self, engine: Any, path: Path, spec: Any) -> StatusReport:
        async with self._session(engine) as session:
            entra, graph, prompt = session.entra, session.graph, session.prompt(spec)
            status = await engine.status(spec, entra)
            problems = list(status.problems)
            try:
                plan = await engine.plan_organisation(path, spec, entra, graph, prompt)
                drift = [_change(c) for c in plan.changes]
            except engine.ProvisioningError as error:
                drift = []
                problems.append(f"cannot plan: {error}")

        return StatusReport(
            organisation=spec.organisation,
            status={
                "state": status.state,
                "code": status.code,
                "last_cycle": status.last_cycle,
                "counts": status.counts,
                "quarantine": status.quarantine,
                "failures": status.failures,
            },
            problems=problems,
            drift=drift,
        )

    @asynccontextmanager
    async def _session(self, engine: Any) -> AsyncIterator[Any]:
        if self.admin_key:
            # The engine's admin client reads the key from its environment only;
            # this is the module's own process, so nothing else sees it.
            os.environ[engine.ADMIN_KEY_ENV] = self.admin_key
        config = engine.GraphConfig(base_url=self.graph_url, credential=self.credential)
        async with engine.Session(config) as session:
            yield session


async def _destroy_plan(spec: Any, entra: Any, prompt: Any) -> list[str]:
    """What operations.destroy would do, read only (it has no plan of its own)."""
    pending: list[str] = []
    app = await entra.find_app(spec.organisation)
    if app is not None:
        for assignment in await entra.list_assignments(app):
            name = assignment.get("principalDisplayName") or assignment.get(
                "principalId"
            )
            pending.append(f"unassign {name}")
        pending.append(f"delete enterprise application {spec.application_name!r}")

    if prompt is not None:
        organisation = await prompt.get_organisation(spec.organisation)
        if organisation is not None and organisation.provisioning_enabled:
            pending.append("Prompt: disable provisioning (organisation and users kept)")
        if organisation is not None:
            for token in await prompt.list_tokens(spec.organisation):
                if not token.revoked:
                    pending.append(f"Prompt: revoke code {token.id}")
    return pending


def _removal(line: str) -> dict[str, Any]:
    return {"step": "offboard", "action": "delete", "target": line, "details": []}


# Steps that call Graph but change nothing there (Test Connection).
READ_ONLY_ACTIONS = frozenset({"validate"})


def _import_engine() -> Any:
    """Import the provisioning engine's public functions as one namespace."""
    try:
        from provisioning import (
            _run,
            apply,
            errors,
            graph,
            operations,
            plan,
            prompt,
            spec,
        )
    except ImportError as error:
        raise EngineFailure(
            f"The provisioning package cannot be imported ({error}); run the module "
            "with the Python that has it: ansible_python_interpreter="
            "'{{ ansible_playbook_python }}' (the prompt_organisations inventory "
            "sets it)."
        ) from None

    return SimpleNamespace(
        apply_plan=apply.apply_plan,
        destroy=operations.destroy,
        status=operations.status,
        GraphConfig=graph.GraphConfig,
        Session=_run.Session,
        plan_organisation=plan.plan_organisation,
        ADMIN_KEY_ENV=prompt.ADMIN_KEY_ENV,
        load_organisation=spec.load_organisation,
        ProvisioningError=errors.ProvisioningError,
    )


def _load(engine: Any, path: str) -> Any:
    try:
        return engine.load_organisation(Path(path))
    except engine.ProvisioningError as error:
        raise EngineFailure(str(error), file=path) from None


def _change(change: Any) -> dict[str, Any]:
    rendered: dict[str, Any] = change.as_json()
    return rendered


def _app(app: Any) -> dict[str, Any] | None:
    if app is None:
        return None
    return {
        "application_object_id": app.application_object_id,
        "app_id": app.app_id,
        "service_principal_id": app.service_principal_id,
    }
