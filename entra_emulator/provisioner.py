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
import copy
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import (
    AdminRequestInvalid,
    ExpressionError,
    GraphError,
    ScimCredentialsRejected,
    ScimRequestFailed,
)
from .expressions import evaluate
from .group_sync import SCIM_GROUP, GroupSync, GroupView
from .mappings import AttributeRule, ObjectRule, object_rule
from .routing import now_iso
from .scim_client import ScimClient
from .scim_paths import (
    TargetPath,
    create_body,
    parse_target,
    patch_body,
    read,
    same,
    wire_value,
)

if TYPE_CHECKING:
    from .jobs import Job
    from .server import Emulator

logger = logging.getLogger(__name__)

MAX_LOG_ENTRIES = 200_000
SCIM_USER_TYPE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass
class Outcome:
    """What happened to one user; becomes a provisioning-log entry."""

    user_id: str
    display_name: str
    action: str  # create | update | disable | delete | other
    status: str  # success | failure | skipped
    bucket: str  # created | updated | disabled | deleted | skipped | failed
    target_id: str | None = None
    error_code: str | None = None
    reason: str = ""
    modified: list[dict[str, Any]] = field(default_factory=list)
    identity_type: str = "User"


@dataclass
class _Snapshot:
    base: str
    token: str
    sync_all: bool
    user_rule: ObjectRule | None
    group_rule: ObjectRule | None
    groups: dict[str, GroupView]
    groups_in_scope: set[str]
    users: dict[str, dict[str, Any]]
    inactive: set[str]
    in_scope: set[str]
    sp_name: str


def _source_attributes(user_id: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        **props,
        "objectId": user_id,
        "mobile": props.get("mobilePhone"),
        "physicalDeliveryOfficeName": props.get("officeLocation"),
        "telephoneNumber": None,
        "facsimileTelephoneNumber": None,
        "manager": None,  # manager references are not emulated
    }


def _snapshot(emulator: Emulator, job: Job) -> _Snapshot:
    """Copy what a cycle reads, under the emulator lock, so the cycle runs lock-free."""
    with emulator.lock:
        secrets = emulator.secret_values(job.sp_id)
        directory = emulator.directory
        users = {
            u.id: _source_attributes(u.id, dict(u.properties))
            for u in directory.users.values()
        }
        inactive = {
            u.id for u in directory.users.values() if u.soft_deleted or not u.enabled
        }
        sync_all = secrets.get("SyncAll", "false").strip().lower() == "true"
        in_scope: set[str] = set(users) if sync_all else set()
        groups_in_scope: set[str] = set(directory.groups) if sync_all else set()
        for assignment in emulator.assignments.values():
            if assignment["resourceId"] != job.sp_id:
                continue
            principal = assignment["principalId"]
            if principal in users:
                in_scope.add(principal)
            elif (group := directory.groups.get(principal)) is not None:
                # Only direct members of an assigned group are in scope (MS-HOW).
                in_scope.update(m for m in group.members if m in users)
                groups_in_scope.add(group.id)
        groups = {
            g.id: GroupView(g.id, g.display_name, list(g.members))
            for g in directory.groups.values()
        }
        sp = emulator.service_principals.get(job.sp_id) or {}
        schema = copy.deepcopy(job.schema)
    try:
        user_rule = object_rule(schema, "User")
        group_rule = object_rule(schema, "Group")
    except (GraphError, ExpressionError) as exc:
        raise AdminRequestInvalid(
            f"The schema of job {job.id} is invalid: {exc}"
        ) from exc
    return _Snapshot(
        base=secrets.get("BaseAddress", ""),
        token=secrets.get("SecretToken", ""),
        sync_all=sync_all,
        user_rule=user_rule,
        group_rule=group_rule,
        groups=groups,
        groups_in_scope=groups_in_scope,
        users=users,
        inactive=inactive,
        in_scope=in_scope,
        sp_name=str(sp.get("displayName") or ""),
    )


class _UserSync:
    """The per-user pipeline shared by cycles and provision on demand."""

    def __init__(
        self, job: Job, snap: _Snapshot, client: ScimClient, compliant: bool
    ) -> None:
        self.job = job
        self.snap = snap
        self.client = client
        self.compliant = compliant
        self.rule = snap.user_rule
        self.runtime = job.runtime

    def values(
        self, user_id: str, soft: bool
    ) -> list[tuple[AttributeRule, TargetPath, Any]]:
        assert self.rule is not None
        source = {**self.snap.users[user_id], "IsSoftDeleted": soft}
        out = []
        for attribute in self.rule.attributes:
            value = evaluate(attribute.node, source)
            if value in ("", []):
                value = None
            out.append((attribute, parse_target(attribute.target), value))
        return out

    async def find(
        self, user_id: str, values: list[tuple[AttributeRule, TargetPath, Any]]
    ) -> dict[str, Any] | None:
        """Query by matching attributes in precedence order, then the cached id."""
        assert self.rule is not None
        by_target = {a.target: v for a, _, v in values}
        for attribute in self.rule.matching:
            value = by_target.get(attribute.target)
            if value is None:
                continue
            hits = await self.client.query(
                "Users",
                attribute.target,
                str(wire_value(parse_target(attribute.target), value, compliant=False)),
            )
            if len(hits) > 1:
                raise ScimRequestFailed(
                    200,
                    "SystemForCrossDomainIdentityManagementMultipleEntriesInResponse",
                    f"{len(hits)} users match {attribute.target} eq {value!r}.",
                )
            if hits:
                return hits[0]
        known = self.runtime.target_ids.get(user_id)
        return await self.client.get("Users", known) if known else None

    async def sync(self, user_id: str) -> Outcome | None:
        """Bring one user in line; None when nothing needed doing."""
        if user_id not in self.snap.users:
            return await self.hard_delete(user_id)
        assert self.rule is not None
        name = str(self.snap.users[user_id].get("displayName") or user_id)
        in_scope = user_id in self.snap.in_scope
        soft = not in_scope or user_id in self.snap.inactive
        values = self.values(user_id, soft)
        flows = self.rule.flow_types

        resource = await self.find(user_id, values)
        if resource is None:
            self.runtime.managed.discard(user_id)
            if soft:
                if not in_scope:
                    return None
                return Outcome(
                    user_id,
                    name,
                    "create",
                    "skipped",
                    "skipped",
                    reason="The user is disabled or deleted in the directory; "
                    "Entra does not create disabled users.",
                )
            if "Add" not in flows:
                return Outcome(
                    user_id,
                    name,
                    "create",
                    "skipped",
                    "skipped",
                    reason="The Users mapping does not allow Add.",
                )
            return await self.create(user_id, name, values)

        scim_id = str(resource.get("id"))
        self.runtime.target_ids[user_id] = scim_id
        if in_scope:
            self.runtime.managed.add(user_id)
        else:
            self.runtime.managed.discard(
                user_id
            )  # disabled once, then no longer managed
        changes = []
        for attribute, path, value in values:
            if value is None or attribute.flow_type == "ObjectAddOnly":
                continue
            if not in_scope and not attribute.follows_soft_delete:
                continue
            current = read(resource, path)
            wire = wire_value(path, value, self.compliant)
            if not same(wire, current):
                changes.append((path, wire, current))
        if not changes:
            return None
        if "Update" not in flows:
            return Outcome(
                user_id,
                name,
                "update",
                "skipped",
                "skipped",
                scim_id,
                reason="The Users mapping does not allow Update.",
            )

        body = patch_body(
            [(p, w, c is not None) for p, w, c in changes], self.compliant
        )
        await self.client.patch("Users", scim_id, body)
        disabling = any(
            p.is_boolean and str(w).lower() == "false" for p, w, _ in changes
        )
        modified = [
            {
                "displayName": p.raw,
                "oldValue": None if c is None else str(c),
                "newValue": str(w),
            }
            for p, w, c in changes
        ]
        action = "disable" if disabling else "update"
        bucket = "disabled" if disabling else "updated"
        return Outcome(
            user_id, name, action, "success", bucket, scim_id, modified=modified
        )

    async def create(
        self,
        user_id: str,
        name: str,
        values: list[tuple[AttributeRule, TargetPath, Any]],
    ) -> Outcome:
        pairs = []
        for attribute, path, evaluated in values:
            # "Default value if null" applies on create only (MS-ATTR).
            value = attribute.default_value if evaluated is None else evaluated
            if value is not None:
                pairs.append((path, wire_value(path, value, self.compliant)))
        created = await self.client.create("Users", create_body(pairs))
        scim_id = str(created["id"])
        self.runtime.target_ids[user_id] = scim_id  # Entra caches the id forever
        self.runtime.managed.add(user_id)
        modified = [
            {"displayName": p.raw, "oldValue": None, "newValue": str(v)}
            for p, v in pairs
        ]
        return Outcome(
            user_id, name, "create", "success", "created", scim_id, modified=modified
        )

    async def hard_delete(self, user_id: str) -> Outcome | None:
        """Send DELETE for a managed user deleted for good (if Delete is allowed)."""
        assert self.rule is not None
        self.runtime.managed.discard(user_id)
        scim_id = self.runtime.target_ids.get(user_id)
        if scim_id is None:
            return None
        if "Delete" not in self.rule.flow_types:
            return Outcome(
                user_id,
                user_id,
                "delete",
                "skipped",
                "skipped",
                scim_id,
                reason="The Users mapping does not allow Delete.",
            )
        try:
            await self.client.delete("Users", scim_id)
        except ScimRequestFailed as exc:
            if exc.status != 404:
                raise
        self.runtime.target_ids.pop(user_id, None)
        return Outcome(user_id, user_id, "delete", "success", "deleted", scim_id)


def _log_entry(
    emulator: Emulator,
    job: Job,
    snap: _Snapshot,
    cycle_id: str,
    outcome: Outcome,
    ms: int,
) -> dict[str, Any]:
    error = None
    if outcome.status != "success":
        error = {
            "additionalDetails": None,
            "errorCategory": "failure"
            if outcome.status == "failure"
            else "nonServiceFailure",
            "errorCode": outcome.error_code,
            "reason": outcome.reason,
            "recommendedAction": None,
        }
    steps = [
        {
            "name": "EntryImport",
            "provisioningStepType": "import",
            "status": "success",
            "description": f"Retrieved {outcome.display_name} from Microsoft Entra ID",
            "details": None,
        },
        {
            "name": "EntryExport",
            "provisioningStepType": "export",
            "status": outcome.status,
            "description": outcome.reason or f"{outcome.action} {outcome.display_name}",
            "details": None,
        },
    ]
    return {
        "id": str(uuid.uuid4()),
        "activityDateTime": now_iso(),
        "changeId": str(uuid.uuid4()),
        "cycleId": cycle_id,
        "durationInMilliseconds": ms,
        "initiatedBy": {
            "displayName": "Azure AD Provisioning Service",
            "id": "",
            "initiatorType": "system",
        },
        "jobId": job.id,
        "modifiedProperties": outcome.modified,
        "provisioningAction": outcome.action,
        "provisioningStatusInfo": {"status": outcome.status, "errorInformation": error},
        "provisioningSteps": steps,
        "servicePrincipal": {"id": job.sp_id, "displayName": snap.sp_name},
        "sourceIdentity": {
            "id": outcome.user_id,
            "displayName": outcome.display_name,
            "identityType": outcome.identity_type,
            "details": None,
        },
        "sourceSystem": {
            "id": emulator.config.tenant_id,
            "displayName": "Microsoft Entra ID",
            "details": None,
        },
        "targetIdentity": {
            "id": outcome.target_id or "",
            "displayName": outcome.display_name,
            "identityType": SCIM_USER_TYPE
            if outcome.identity_type == "User"
            else SCIM_GROUP,
            "details": None,
        },
        "targetSystem": {"id": job.id, "displayName": snap.sp_name, "details": None},
        "tenantId": emulator.config.tenant_id,
    }


def _record_logs(emulator: Emulator, entries: list[dict[str, Any]]) -> None:
    with emulator.lock:
        emulator.logs.extend(entries)
        if len(emulator.logs) > MAX_LOG_ENTRIES:
            del emulator.logs[: len(emulator.logs) - MAX_LOG_ENTRIES]


async def _guarded(
    sync: _UserSync, user_id: str, semaphore: asyncio.Semaphore, halt: dict[str, Any]
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


def _execution(
    cycle_id: str,
    began: str,
    counts: dict[str, int],
    state: str,
    error: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "activityIdentifier": cycle_id,
        "countEntitled": counts["entitled"],
        "countEntitledForProvisioning": counts["entitled"],
        "countEscrowed": counts["failed"],
        "countEscrowedRaw": counts["failed"],
        "countExported": counts["exported"],
        "countExports": counts["exported"] + counts["failed"],
        "countImported": counts["imported"],
        "countImportedDeltas": counts["imported"],
        "countImportedReferenceDeltas": 0,
        "error": error,
        "state": state,
        "timeBegan": began,
        "timeEnded": now_iso(),
    }


async def _sync_groups(
    job: Job,
    snap: _Snapshot,
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
    snap = _snapshot(emulator, job)
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
            sync = _UserSync(job, snap, client, compliant)
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
        entries.append(_log_entry(emulator, job, snap, cycle_id, outcome, 0))
    _record_logs(emulator, entries)
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
    execution = _execution(summary["cycleId"], began, counts, state, error)
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
    snap = _snapshot(emulator, job)
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
    sync = _UserSync(job, snap, client, compliant=False)
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
    entry = _log_entry(emulator, job, snap, cycle_id, outcome, 0)
    _record_logs(emulator, [entry])
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
