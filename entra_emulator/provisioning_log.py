"""Provisioning-log entries (provisioningObjectSummary) and job execution records."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .group_sync import SCIM_GROUP
from .routing import now_iso
from .user_sync import Outcome, Snapshot

if TYPE_CHECKING:
    from .jobs import Job
    from .server import Emulator

MAX_LOG_ENTRIES = 200_000
SCIM_USER_TYPE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def log_entry(
    emulator: Emulator,
    job: Job,
    snap: Snapshot,
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


def record_logs(emulator: Emulator, entries: list[dict[str, Any]]) -> None:
    with emulator.lock:
        emulator.logs.extend(entries)
        if len(emulator.logs) > MAX_LOG_ENTRIES:
            del emulator.logs[: len(emulator.logs) - MAX_LOG_ENTRIES]


def execution_record(
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
