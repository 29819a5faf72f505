"""Execute a plan through provisioning.entra and the Prompt admin API, in order.

Each write is idempotent or guarded by a fresh read: an interrupted apply resumes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from kiota_abstractions.api_error import APIError

from provisioning import _fingerprint
from provisioning.errors import ApplyFailed, ProvisioningError
from provisioning.graph import graph_error, patch_json
from provisioning.mappings import desired_schema, schema_drift
from provisioning.plan import TOKEN_LABEL, Change, EntraApi, OrganisationPlan
from provisioning.prompt import PromptAdmin

__all__ = ["ApplyResult", "apply_plan"]

log = logging.getLogger(__name__)

APP_WRITE = "Application.ReadWrite.All (or Application.ReadWrite.OwnedBy)"


@dataclass
class ApplyResult:
    """What one organisation's apply did."""

    slug: str
    done: list[Change] = field(default_factory=list)


@dataclass
class _State:
    """What earlier steps of this apply produced for later ones (never logged)."""

    app: Any
    job_id: str | None
    role_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    issued_token_id: str | None = None
    assigned: set[str] | None = None
    graph: Any = None


async def apply_plan(
    plan: OrganisationPlan, entra: EntraApi, graph: Any, prompt: PromptAdmin | None
) -> ApplyResult:
    """Make the plan's changes in order; raise ApplyFailed naming the failed step."""
    state = _State(app=plan.app, job_id=str(plan.job["id"]) if plan.job else None)
    state.graph = graph
    if not plan.spec.prompt.token.issue and any(
        c.step in ("credentials", "secrets") for c in plan.changes
    ):
        state.secret = plan.spec.prompt.token.resolve(plan.path.parent)

    result = ApplyResult(slug=plan.slug)
    for change in plan.changes:
        try:
            await _execute(change, plan, state, entra, prompt)
        except ProvisioningError as error:
            # No slug here: every caller shows the organisation next to the error.
            raise ApplyFailed(
                f"{change.action} {change.step} ({change.target}) "
                f"failed after {len(result.done)} of {len(plan.changes)} change(s); "
                f"run apply again once fixed. {error}",
                done=result.done,
            ) from error
        result.done.append(change)
    return result


async def _execute(
    change: Change,
    plan: OrganisationPlan,
    state: _State,
    entra: EntraApi,
    prompt: PromptAdmin | None,
) -> None:
    slug = plan.slug
    spec = plan.spec

    if change.step == "prompt-organisation":
        assert prompt is not None
        if change.action == "create":
            await prompt.create_organisation(slug, **change.data["fields"])
        else:
            await prompt.update_organisation(slug, **change.data["fields"])

    elif change.step == "prompt-token" and change.action == "revoke":
        assert prompt is not None
        await prompt.revoke_token(slug, change.data["token_id"])

    elif change.step == "prompt-token":
        assert prompt is not None
        token, state.secret = await prompt.issue_token(slug, label=TOKEN_LABEL)
        state.issued_token_id = token.id

    elif change.step == "application" and change.action == "rename":
        await _rename(state, spec.application_name)

    elif change.step == "application":
        # Re-check the marker first: a previous run may have created the app
        # after this plan was read (never create a second one).
        state.app = await entra.find_app(slug) or await entra.create_app(
            slug, spec.application_name
        )

    elif change.step == "job":
        job = await entra.get_job(state.app) or await entra.create_job(state.app)
        state.job_id = str(job["id"])

    elif change.step == "credentials":
        assert state.job_id is not None
        assert state.secret is not None
        await entra.validate_credentials(
            state.app,
            state.job_id,
            spec.prompt.scim_url,
            state.secret,
            renew=spec.prompt.token.renewal(slug),
        )

    elif change.step == "secrets":
        await _save_secrets(change, plan, state, entra)

    elif change.step == "schema":
        assert state.job_id is not None
        # Fresh GET right before the PUT: the schema has no ETag (graph.md 7.6).
        current = await entra.get_schema(state.app, state.job_id)
        if schema_drift(current, spec.provisioning):
            await entra.put_schema(
                state.app, state.job_id, desired_schema(current, spec.provisioning)
            )

    elif change.step == "assignments":
        await _assignment(change, state, entra)

    elif change.step == "job-state":
        assert state.job_id is not None
        action = {
            "start": entra.start_job,
            "pause": entra.pause_job,
            "restart": entra.restart_job,
        }[change.action]
        await action(state.app, state.job_id)


async def _save_secrets(
    change: Change, plan: OrganisationPlan, state: _State, entra: EntraApi
) -> None:
    spec = plan.spec
    assert state.secret is not None
    await entra.put_secrets(
        state.app,
        base_address=spec.prompt.scim_url,
        token=state.secret,
        sync_all=spec.provisioning.scope == "all",
        notification_email=spec.entra.notification_email,
    )

    token_part = state.issued_token_id or change.data["token_fingerprint"]
    fingerprint = _fingerprint.Fingerprint(
        token=token_part, settings=change.data["settings"]
    )
    await _fingerprint.write_fingerprint(
        state.graph, state.app.service_principal_id, fingerprint
    )
    log.info(
        "recorded the secrets fingerprint of %s on its service principal", plan.slug
    )


async def _assignment(change: Change, state: _State, entra: EntraApi) -> None:
    if change.action == "unassign":
        await entra.unassign(state.app, change.data["assignment_id"])
        return

    if state.role_id is None:
        state.role_id = await entra.user_role_id(state.app)
    if state.assigned is None:
        # Listed again right before writing: another run may have assigned since
        # the plan was read (a duplicate POST is a 400 in Graph).
        state.assigned = {
            str(a.get("principalId"))
            for a in await entra.list_assignments(state.app)
            if a.get("appRoleId") == state.role_id
        }
    principal_id = str(change.data["principal_id"])
    if principal_id not in state.assigned:
        await entra.assign(state.app, principal_id, state.role_id)
        state.assigned.add(principal_id)


async def _rename(state: _State, name: str) -> None:
    """Set displayName on the application and its service principal (portal name)."""
    client, app = state.graph, state.app
    targets = [
        (
            "application",
            client.applications.by_application_id(app.application_object_id),
        ),
        (
            "service principal",
            client.service_principals.by_service_principal_id(app.service_principal_id),
        ),
    ]
    for kind, builder in targets:
        try:
            await patch_json(builder, {"displayName": name})
        except (APIError, httpx.TransportError) as error:
            raise graph_error(
                error,
                action=f"rename the {kind} of '{app.slug}' to {name!r}",
                permission=APP_WRITE,
            ) from None
        log.info("renamed the %s of %s to %r", kind, app.slug, name)
