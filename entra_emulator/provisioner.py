"""The emulated provisioning service: a cycle of a job, and provision on demand.

Does what Entra does for a non-gallery SCIM app (scim-entra.md 1, 5): scope users by
assignment (direct members of assigned groups, nested groups not expanded) unless
SyncAll, evaluate the job schema's user mappings, GET by matching attribute, POST
when missing, PATCH only differences, `active` false when out of scope, disabled or
soft-deleted, DELETE on hard delete; 401 quarantines the job.

Groups are exported only when the Groups mapping is enabled (`group_sync`).
Not reproduced: watermarks (every cycle re-reads every candidate, so an unchanged
cycle sends GETs only), escrow retries and thresholds, manager references, scoping
filters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from .errors import (
    AdminRequestInvalid,
    GraphError,
    ScimCredentialsRejected,
    ScimRequestFailed,
)
from .group_sync import GroupSync
from .mappings import ObjectRule
from .provisioning_log import execution_record, log_entry, record_logs
from .routing import now_iso
from .scim_client import ScimClient
from .user_sync import Outcome, Snapshot, UserSync, take_snapshot

if TYPE_CHECKING:
    from .jobs import Job
    from .server import Emulator

logger = logging.getLogger(__name__)


async def _guarded(
    sync: UserSync, user_id: str, semaphore: asyncio.Semaphore, halt: dict[str, Any]
) -> Outcome | None:
    async with semaphore:
        if halt:
            return None
        name = str(sync.snap.users.get(user_id, {}).get("displayName") or user_id)
        try:
            return await sync.sync(user_id)
        except ScimCredentialsRejected as exc:
            halt.setdefault("error", exc)
            return Outcome(
                user_id,
                name,
                "other",
                "failure",
                "failed",
                error_code=exc.error_code,
                reason=exc.reason,
            )
        except ScimRequestFailed as exc:
            return Outcome(
                user_id,
                name,
                "other",
                "failure",
                "failed",
                sync.runtime.target_ids.get(user_id),
                exc.error_code,
                exc.reason,
            )


async def _sync_groups(
    job: Job,
    snap: Snapshot,
    rule: ObjectRule,
    client: ScimClient,
    compliant: bool,
) -> list[Outcome | None]:
    """Export assigned groups after the users (member ids must be known first)."""
    runtime = job.runtime
    sync = GroupSync(rule, runtime, client, compliant)
    buckets = {"create": "created", "update": "updated", "delete": "deleted"}
    results = []
    for group_id in sorted(snap.groups_in_scope):
        group = snap.groups[group_id]
        members = {
            runtime.target_ids[m]
            for m in group.members
            if m in runtime.managed and m in runtime.target_ids
        }
        results += await sync.sync(group, members)
    for group_id in [g for g in runtime.group_ids if g not in snap.groups_in_scope]:
        removed = await sync.remove(group_id)
        results += [removed] if removed else []

    outcomes: list[Outcome | None] = []
    for r in results:
        bucket = buckets.get(r.action, "failed") if r.status == "success" else "failed"
        name = snap.groups[r.group_id].display_name if r.group_id in snap.groups else ""
        outcomes.append(
            Outcome(
                r.group_id,
                name or r.display_name,
                r.action,
                r.status,
                bucket,
                r.target_id,
                r.error_code,
                r.reason,
                identity_type="Group",
            )
        )
    return outcomes


async def run_cycle(emulator: Emulator, job: Job) -> dict[str, Any]:
    """Run one provisioning cycle of a started job and return a summary."""
    if job.schedule_state != "Active":
        raise AdminRequestInvalid(
            f"Job {job.id} is not started (schedule.state {job.schedule_state}); "
            "start it with POST .../jobs/{id}/start first."
        )
    async with job.runtime.lock():
        return await _cycle(emulator, job)


async def _cycle(emulator: Emulator, job: Job) -> dict[str, Any]:
    began, started = now_iso(), time.monotonic()
    cycle_id = str(uuid.uuid4())
    snap = take_snapshot(emulator, job)
    counts = dict.fromkeys(
        (
            "group_created",
            "group_updated",
            "group_deleted",
            "group_failed",
        ),
        0,
    )
    counts |= dict.fromkeys(
        (
            "entitled",
            "created",
            "updated",
            "disabled",
            "deleted",
            "skipped",
            "failed",
            "exported",
            "imported",
        ),
        0,
    )
    counts["entitled"] = len(snap.in_scope)
    summary: dict[str, Any] = {"jobId": job.id, "cycleId": cycle_id}
    if not snap.base or not snap.token:
        return _finish(
            emulator,
            job,
            summary,
            counts,
            began,
            started,
            {},
            {
                "code": "CredentialsMissing",
                "message": "Save BaseAddress and SecretToken (secrets) first.",
                "tenantActionable": True,
            },
            quarantine=False,
        )

    client = ScimClient(
        snap.base,
        snap.token,
        timeout=emulator.config.scim_timeout,
        concurrency=emulator.config.concurrency,
    )
    compliant = client.compliant_patch
    halt: dict[str, Any] = {}
    outcomes: list[Outcome | None] = []
    try:
        rule = snap.user_rule
        matching = rule.matching[0].target if rule and rule.matching else "userName"
        await client.probe(matching, None)  # Entra probes at the start of activity too
        if rule is not None and rule.enabled:
            sync = UserSync(job, snap, client, compliant)
            candidates = sorted(snap.in_scope | job.runtime.managed)
            counts["imported"] = len(candidates)
            semaphore = asyncio.Semaphore(max(1, emulator.config.concurrency))
            outcomes = list(
                await asyncio.gather(
                    *(_guarded(sync, uid, semaphore, halt) for uid in candidates)
                )
            )
        group_rule = snap.group_rule
        if group_rule is not None and group_rule.enabled and not halt:
            outcomes += await _sync_groups(job, snap, group_rule, client, compliant)
    except ScimRequestFailed as exc:
        halt.setdefault("error", exc)
    finally:
        await client.aclose()

    entries = []
    for outcome in outcomes:
        if outcome is None:
            continue
        if outcome.identity_type == "Group":
            counts[f"group_{outcome.bucket}"] += 1
        else:
            counts[outcome.bucket] += 1
        if outcome.status == "success":
            counts["exported"] += 1
        entries.append(log_entry(emulator, job, snap, cycle_id, outcome, 0))
    record_logs(emulator, entries)
    error = None
    quarantine = False
    if "error" in halt:
        failure: ScimRequestFailed = halt["error"]
        quarantine = True
        error = {
            "code": failure.error_code,
            "message": failure.reason,
            "tenantActionable": True,
        }
    with emulator.lock:
        job.synchronized_users = len(job.runtime.managed)
    return _finish(
        emulator,
        job,
        summary,
        counts,
        began,
        started,
        dict(client.counts),
        error,
        quarantine=quarantine,
    )


def _finish(
    emulator: Emulator,
    job: Job,
    summary: dict[str, Any],
    counts: dict[str, int],
    began: str,
    started: float,
    requests: dict[str, int],
    error: dict[str, Any] | None,
    *,
    quarantine: bool,
) -> dict[str, Any]:
    """Write job status (lastExecution, quarantine) and return the cycle summary."""
    if error is not None:
        state = "Failed"
    elif counts["failed"]:
        state = "EntryLevelErrors"
    else:
        state = "Succeeded"
    execution = execution_record(summary["cycleId"], began, counts, state, error)
    with emulator.lock:
        job.last_execution = execution
        if error is None:
            job.successive_failures = 0
            job.last_successful_execution = execution
            if counts["exported"]:
                job.last_successful_execution_with_exports = execution
            if (
                job.status_code == "Quarantine"
            ):  # any success exits quarantine (MS-QUAR)
                job.quarantine = None
                job.status_code = (
                    "Active" if job.schedule_state == "Active" else "Paused"
                )
            job.steady_first = job.steady_first or execution["timeEnded"]
            job.steady_last = execution["timeEnded"]
        else:
            job.successive_failures += 1
            if quarantine:
                job.enter_quarantine(error["code"], error["message"])
                logger.warning("job %s quarantined: %s", job.id, error["message"])
    writes = sum(n for method, n in requests.items() if method != "GET")
    logger.info(
        "cycle %s of job %s: %s created, %s updated, %s disabled, %s deleted, "
        "%s failed",
        summary["cycleId"],
        job.id,
        counts["created"],
        counts["updated"],
        counts["disabled"],
        counts["deleted"],
        counts["failed"],
    )
    return {
        **summary,
        "state": state,
        "quarantined": quarantine,
        "error": error,
        "durationSeconds": round(time.monotonic() - started, 3),
        **{
            k: v
            for k, v in counts.items()
            if k not in ("exported", "imported") and not k.startswith("group_")
        },
        "groups": {
            k.removeprefix("group_"): v
            for k, v in counts.items()
            if k.startswith("group_")
        },
        "requests": requests,
        "writes": writes,
    }


async def provision_on_demand(
    emulator: Emulator, job: Job, object_id: str, type_name: str
) -> dict[str, str]:
    """Provision one user now; returns Graph's {key, value} pair of JSON strings.

    The aadOptscim062020 flag does not apply on demand (MS-COMPAT), so PATCH bodies
    are always legacy-shaped here.
    """
    if type_name != "User":
        raise GraphError(
            400,
            "RequestParameterInvalid",
            "The emulator provisions objectTypeName 'User' on demand only.",
        )
    snap = take_snapshot(emulator, job)
    if object_id not in snap.users:
        raise GraphError(
            400,
            "RequestParameterInvalid",
            f"The subject '{object_id}' is not a user of the directory.",
        )
    if not snap.base or not snap.token:
        raise GraphError(
            400,
            "RequestParameterInvalid",
            "Save BaseAddress and SecretToken before provisioning on demand.",
        )
    if snap.user_rule is None or not snap.user_rule.enabled:
        raise GraphError(
            400, "RequestParameterInvalid", "The Users object mapping is disabled."
        )

    cycle_id = str(uuid.uuid4())
    client = ScimClient(snap.base, snap.token, timeout=emulator.config.scim_timeout)
    sync = UserSync(job, snap, client, compliant=False)
    name = str(snap.users[object_id].get("displayName") or object_id)
    async with job.runtime.lock():
        try:
            outcome = await sync.sync(object_id)
        except ScimRequestFailed as exc:
            outcome = Outcome(
                object_id,
                name,
                "other",
                "failure",
                "failed",
                error_code=exc.error_code,
                reason=exc.reason,
            )
        finally:
            await client.aclose()
    if outcome is None:
        outcome = Outcome(
            object_id,
            name,
            "other",
            "skipped",
            "skipped",
            job.runtime.target_ids.get(object_id),
            "RedundantExport",
            "The target already matches the directory; nothing to export.",
        )
    entry = log_entry(emulator, job, snap, cycle_id, outcome, 0)
    record_logs(emulator, [entry])
    result = {"success": "Success", "skipped": "Skipped"}.get(outcome.status, "Failure")
    key = {
        "result": result,
        "details": {
            "action": outcome.action,
            "errorCode": outcome.error_code,
            "reason": outcome.reason,
            "sourceIdentity": object_id,
            "targetIdentity": outcome.target_id,
        },
    }
    value = {
        "provisioningSteps": entry["provisioningSteps"],
        "modifiedProperties": outcome.modified,
        "statusInfo": entry["provisioningStatusInfo"],
        "sourceIdentity": entry["sourceIdentity"],
        "targetIdentity": entry["targetIdentity"],
        "scoping": {"IsEffectivelyEntitledForProvisioning": object_id in snap.in_scope},
    }
    return {"key": json.dumps(key), "value": json.dumps(value)}
