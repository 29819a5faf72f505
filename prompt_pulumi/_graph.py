"""Synchronous Graph steps for the dynamic providers, built on provisioning.entra.

Each call builds a fresh Graph client inside one `asyncio.run`: dynamic provider
methods are synchronous gRPC handlers, and msgraph clients must not outlive their
event loop (msgraph-sdk-python #366). Credentials come from the environment only.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from provisioning.entra import AppRef, Entra
from provisioning.errors import GraphNotFound
from provisioning.graph import CredentialKind, GraphConfig, open_client
from provisioning.mappings import desired_schema, schema_drift

__all__ = [
    "CREDENTIAL_ENV",
    "apply_schema",
    "drift",
    "get_schema",
    "job_state",
    "set_job_running",
    "validate_credentials",
]

T = TypeVar("T")

# Which azure-identity credential the providers use; never a secret itself. The
# credential's own variables (AZURE_CLIENT_ID, AZURE_TENANT_ID, ...) stay in the
# environment of `pulumi up` and never reach resource inputs or state.
CREDENTIAL_ENV = "PROMPT_GRAPH_CREDENTIAL"

# Schedule state and status codes meaning "not running" (graph.md section 8).
_STOPPED_STATUS = ("Paused", "Quarantine")


@dataclass(frozen=True)
class _Mappings:
    """provisioning.mappings.MappingSettings from plain resource inputs."""

    groups: bool
    matching: str
    user_attributes: dict[str, str]


def get_schema(props: dict[str, Any]) -> dict[str, Any]:
    """Return the job's schema as Graph has it (raw JSON)."""

    async def step(entra: Entra, app: AppRef) -> dict[str, Any]:
        schema: dict[str, Any] = await entra.get_schema(app, props["job_id"])
        return schema

    return _run(props, step)


def apply_schema(props: dict[str, Any]) -> dict[str, Any]:
    """PUT the desired schema when it drifted; return the schema read afterwards."""
    settings = _mappings(props)

    async def step(entra: Entra, app: AppRef) -> dict[str, Any]:
        # GET right before PUT: the PUT replaces the whole schema, and every
        # PUT makes Entra reprocess everyone, so skip it when nothing differs.
        current: dict[str, Any] = await entra.get_schema(app, props["job_id"])
        if schema_drift(current, settings):
            desired = desired_schema(current, settings)
            await entra.put_schema(app, props["job_id"], desired)
            current = await entra.get_schema(app, props["job_id"])
        return current

    return _run(props, step)


def drift(props: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """How `current` differs from the mappings in the resource inputs."""
    return schema_drift(current, _mappings(props))


def validate_credentials(props: dict[str, Any]) -> None:
    """Test Connection; raises provisioning's CredentialsRejected on failure."""

    async def step(entra: Entra, app: AppRef) -> None:
        await entra.validate_credentials(
            app, props["job_id"], props["base_address"], props["token"]
        )

    _run(props, step)


def job_state(props: dict[str, Any]) -> dict[str, Any] | None:
    """The job's schedule state and status code; None when the job is gone."""

    async def step(entra: Entra, app: AppRef) -> dict[str, Any] | None:
        return await _job(entra, app, props["job_id"])

    job = _run(props, step)
    return None if job is None else _state(job)


def set_job_running(
    props: dict[str, Any], running: bool, *, missing_ok: bool = False
) -> dict[str, Any]:
    """Start or pause the job unless it already is; return its state after."""

    async def step(entra: Entra, app: AppRef) -> dict[str, Any]:
        job = await _job(entra, app, props["job_id"])
        if job is None:
            if missing_ok:
                return {}
            raise GraphNotFound(
                f"synchronization job {props['job_id']} of service principal "
                f"{app.service_principal_id} was not found; run `pulumi refresh` "
                "and `pulumi up` to create it again",
                status=404,
            )

        if running and not _state(job)["running"]:
            await entra.start_job(app, props["job_id"])
        elif not running and _state(job)["schedule_state"] == "Active":
            await entra.pause_job(app, props["job_id"])
        else:
            return job
        return await _job(entra, app, props["job_id"]) or {}

    job = _run(props, step)
    return _state(job) if job else {}


async def _job(entra: Entra, app: AppRef, job_id: str) -> dict[str, Any] | None:
    job = await entra.get_job(app)
    return job if job is not None and job.get("id") == job_id else None


def _state(job: dict[str, Any]) -> dict[str, Any]:
    schedule_state = str((job.get("schedule") or {}).get("state") or "")
    status_code = str((job.get("status") or {}).get("code") or "")
    return {
        "schedule_state": schedule_state,
        "status_code": status_code,
        "running": schedule_state == "Active" and status_code not in _STOPPED_STATUS,
    }


def _mappings(props: dict[str, Any]) -> _Mappings:
    return _Mappings(
        groups=bool(props["groups"]),
        matching=str(props["matching"]),
        user_attributes=dict(props["user_attributes"]),
    )


def _run(props: dict[str, Any], step: Callable[[Entra, AppRef], Awaitable[T]]) -> T:
    app = AppRef(
        application_object_id=props["application_object_id"],
        app_id=props["app_id"],
        service_principal_id=props["service_principal_id"],
    )
    # An unknown kind is reported by provisioning.graph with the valid ones.
    credential = cast(CredentialKind, os.environ.get(CREDENTIAL_ENV, "default"))
    config = GraphConfig(
        base_url=props["graph_base_url"],
        credential=credential,
        tenant_id=props.get("tenant_id"),
    )

    async def main() -> T:
        async with open_client(config) as client:
            return await step(Entra(client), app)

    return asyncio.run(main())
