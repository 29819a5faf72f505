"""Day-2 operations on one organisation: status, destroy, rotate-token, provision-now.

All go through provisioning.entra (graph.md sections 8, 10) and the Prompt admin API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provisioning import _fingerprint
from provisioning.errors import (
    GraphPermissionDenied,
    NotApplied,
    ProvisioningError,
)
from provisioning.plan import TOKEN_LABEL, EntraApi
from provisioning.prompt import PromptAdmin
from provisioning.spec import OrganisationSpec

__all__ = [
    "OnDemandResult",
    "Status",
    "destroy",
    "provision_now",
    "rotate_token",
    "status",
]

log = logging.getLogger(__name__)


@dataclass
class Status:
    """Health of one organisation's provisioning."""

    slug: str
    problems: list[str] = field(default_factory=list)
    state: str = "-"
    code: str = "-"
    last_cycle: str = "-"
    counts: dict[str, int] = field(default_factory=dict)
    quarantine: str | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Whether nothing needs attention."""
        return not self.problems


async def _app_and_job(spec: OrganisationSpec, entra: EntraApi) -> tuple[Any, Any]:
    app = await entra.find_app(spec.organisation)
    job = await entra.get_job(app) if app is not None else None
    return app, job


async def status(spec: OrganisationSpec, entra: EntraApi, *, top: int = 50) -> Status:
    """Read job state, last cycle, quarantine and recent provisioning-log failures."""
    result = Status(slug=spec.organisation)
    app, job = await _app_and_job(spec, entra)
    if app is None or job is None:
        missing = "enterprise application" if app is None else "synchronization job"
        result.problems.append(f"no {missing} yet (run apply)")
        return result

    schedule = job.get("schedule") or {}
    info = job.get("status") or {}
    last = info.get("lastExecution") or {}
    result.state = str(schedule.get("state") or "-")
    result.code = str(info.get("code") or "-")
    result.last_cycle = str(last.get("state") or "never run")
    result.counts = {
        name: int(last[name])
        for name in ("countImported", "countExported", "countEscrowed")
        if isinstance(last.get(name), int)
    }
    quarantine = info.get("quarantine")
    if quarantine:
        error = quarantine.get("error") or {}
        result.quarantine = (
            f"{quarantine.get('reason') or 'Unknown'}: "
            f"{error.get('code') or ''} {error.get('message') or ''}".strip()
        )

    if spec.provisioning.enabled and result.state != "Active":
        result.problems.append(f"job is {result.state}, provisioning should be On")
    if result.code == "Quarantine":
        result.problems.append(f"quarantined ({result.quarantine})")
    if last.get("state") == "Failed" or last.get("error"):
        result.problems.append("last cycle failed")

    try:
        entries = await entra.provisioning_logs(app, str(job["id"]), top=top)
    except GraphPermissionDenied as denied:
        # Logs need AuditLog.Read.All and an Entra ID P1/P2 tenant (graph.md 10.2);
        # the job's own status above is still worth reporting.
        result.notes.append(f"provisioning logs unavailable: {denied}")
        entries = []
    for entry in entries:
        status_info = entry.get("provisioningStatusInfo") or {}
        if str(status_info.get("status", "")).lower() != "failure":
            continue
        error = status_info.get("errorInformation") or {}
        who = (entry.get("sourceIdentity") or {}).get("displayName") or "?"
        when = entry.get("activityDateTime", "")
        action = entry.get("provisioningAction", "")
        reason = f"{error.get('errorCode') or ''} {error.get('reason') or ''}".strip()
        result.failures.append(f"{when} {action} {who}: {reason}")
    if result.failures:
        result.problems.append(f"{len(result.failures)} recent provisioning failure(s)")
    return result


async def destroy(
    spec: OrganisationSpec,
    entra: EntraApi,
    prompt: PromptAdmin | None,
    *,
    notes: list[str] | None = None,
) -> list[str]:
    """Unassign everyone, delete the app; Prompt side: provisioning off, codes revoked.

    Returns one line per write made; `notes` collects what was found already gone
    or off. Prompt keeps the organisation and its users (nothing is deleted there).
    """
    done: list[str] = []
    found: list[str] = []
    app = await entra.find_app(spec.organisation)
    if app is None:
        found.append("no enterprise application (already deleted or never applied)")
    else:
        for assignment in await entra.list_assignments(app):
            await entra.unassign(app, str(assignment["id"]))
            done.append(f"unassigned {assignment.get('principalDisplayName') or ''}")
        await entra.delete_app(app)
        done.append(f"deleted enterprise application {spec.application_name!r}")

    organisation = None
    if prompt is not None:
        organisation = await prompt.get_organisation(spec.organisation)
    if prompt is not None and organisation is not None:
        if organisation.provisioning_enabled:
            await prompt.update_organisation(
                spec.organisation, provisioning_enabled=False
            )
            done.append("Prompt: provisioning disabled (organisation and users kept)")
        else:
            found.append("Prompt: provisioning already off")
        for token in await prompt.list_tokens(spec.organisation):
            if not token.revoked:
                await prompt.revoke_token(spec.organisation, token.id)
                done.append(f"Prompt: revoked code {token.id}")
    if notes is not None:
        notes.extend(found)
    return done


async def rotate_token(
    path: Path,
    spec: OrganisationSpec,
    entra: EntraApi,
    graph: Any,
    prompt: PromptAdmin | None,
) -> list[str]:
    """Issue a new code, test it, save it, lift a quarantine, revoke the old code."""
    if prompt is None or not spec.prompt.token.issue:
        raise NotApplied(
            f"rotate-token needs prompt.admin_url and token {{issue: true}} in {path}: "
            f"the code now comes from {spec.prompt.token.describe()}; put a new code "
            "there (prompt-scim token issue) and run apply."
        )
    app, job = await _app_and_job(spec, entra)
    if app is None or job is None:
        raise NotApplied(
            f"{spec.organisation!r} is not set up in Entra yet: run apply."
        )

    job_id = str(job["id"])
    old = await _fingerprint.read_fingerprint(graph, app.service_principal_id)
    token, secret = await prompt.issue_token(spec.organisation, label=TOKEN_LABEL)
    done = [f"Prompt: issued code {token.id}"]
    try:
        await entra.validate_credentials(
            app,
            job_id,
            spec.prompt.scim_url,
            secret,
            renew=spec.prompt.token.renewal(spec.organisation),
        )
    except ProvisioningError:
        await prompt.revoke_token(spec.organisation, token.id)
        raise

    sync_all = spec.provisioning.scope == "all"
    email = spec.entra.notification_email
    await entra.put_secrets(
        app,
        base_address=spec.prompt.scim_url,
        token=secret,
        sync_all=sync_all,
        notification_email=email,
    )
    settings = _fingerprint.settings_digest(
        base_address=spec.prompt.scim_url, sync_all=sync_all, email=email
    )
    await _fingerprint.write_fingerprint(
        graph,
        app.service_principal_id,
        _fingerprint.Fingerprint(token=token.id, settings=settings),
    )
    done.append("Entra: tested and saved the new SecretToken")

    if (job.get("status") or {}).get("code") == "Quarantine":
        await entra.restart_job(app, job_id)
        done.append("Entra: restarted the quarantined job")

    if old is not None and old.token.startswith("tok_") and old.token != token.id:
        live = {
            t.id for t in await prompt.list_tokens(spec.organisation) if not t.revoked
        }
        if old.token in live:
            await prompt.revoke_token(spec.organisation, old.token)
            done.append(f"Prompt: revoked the old code {old.token}")
    return done


@dataclass(frozen=True)
class OnDemandResult:
    """Outcome of provisioning one user now."""

    upn: str
    result: str
    detail: str


async def provision_now(
    spec: OrganisationSpec,
    entra: EntraApi,
    upns: list[str],
) -> list[OnDemandResult]:
    """Provision the users now (provisionOnDemand, at most 5 requests per 10 s)."""
    app, job = await _app_and_job(spec, entra)
    if app is None or job is None:
        raise NotApplied(
            f"{spec.organisation!r} is not set up in Entra yet: run apply."
        )

    job_id = str(job["id"])
    schema = await entra.get_schema(app, job_id)
    rules = schema.get("synchronizationRules") or []
    if not rules:
        raise NotApplied(
            f"The job of {spec.organisation!r} has no synchronization rule."
        )
    rule_id = str(rules[0]["id"])

    # An unknown user is one failed row; the others are provisioned all the same.
    users: list[tuple[str, str]] = []
    unknown: dict[str, OnDemandResult] = {}
    for upn in upns:
        user = await entra.find_user(upn)
        if user is None:
            unknown[upn] = OnDemandResult(
                upn=upn,
                result="Failure",
                detail=f"no user {upn!r} in tenant {spec.entra.tenant_id}: check "
                "the user principal name",
            )
        else:
            users.append((upn, str(user["id"])))

    # Entra.provision_on_demand spaces the requests to Graph's limit itself.
    ids = [user_id for _, user_id in users]
    outcomes = await entra.provision_on_demand(app, job_id, rule_id, ids) if ids else {}
    provisioned = {
        upn: _on_demand_result(upn, outcomes.get(uid) or {}) for upn, uid in users
    }
    return [unknown.get(upn) or provisioned[upn] for upn in upns]


def _on_demand_result(upn: str, outcome: dict[str, Any]) -> OnDemandResult:
    details = outcome.get("details")
    if isinstance(details, dict):
        # Graph sends every key, most of them empty on success: show what has a value.
        filled = {k: v for k, v in details.items() if v not in (None, "", [], {})}
        shown = (
            filled.get("errorCode")
            or filled.get("reason")
            or ", ".join(f"{key}={value}" for key, value in list(filled.items())[:3])
        )
    else:
        shown = str(details or "")
    result = str(outcome.get("result") or "?")
    return OnDemandResult(upn=upn, result=result, detail=str(shown))
