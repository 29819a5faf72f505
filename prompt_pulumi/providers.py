"""Dynamic resources for what pulumi-azuread cannot do (iac.md section 2).

Each provider calls `provisioning.entra.Entra` with a Graph client it builds inside
the method from the environment, so no credential is an input or lands in state,
and the provider pickles by reference (iac.md section 3.1).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from prompt_pulumi import _graph
from provisioning.errors import GraphNotFound

__all__ = [
    "CredentialCheck",
    "CredentialCheckProvider",
    "JobTarget",
    "SynchronizationJobStart",
    "SynchronizationJobStartProvider",
    "SynchronizationSchema",
    "SynchronizationSchemaProvider",
]

logger = logging.getLogger(__name__)

# Inputs every Graph-backed resource carries. Changing the job or service
# principal means a new object, so the resource is replaced.
GRAPH_INPUTS = (
    "service_principal_id",
    "application_object_id",
    "app_id",
    "job_id",
    "tenant_id",
    "graph_base_url",
)
IDENTITY_INPUTS = ("service_principal_id", "job_id")
MAPPING_INPUTS = ("groups", "matching", "user_attributes")


@dataclass(frozen=True)
class JobTarget:
    """The synchronization job a dynamic resource acts on, and the Graph to call.

    Ids are bare GUIDs / job ids, not azuread's /servicePrincipals/... form.
    """

    service_principal_id: pulumi.Input[str]
    application_object_id: pulumi.Input[str]
    app_id: pulumi.Input[str]
    job_id: pulumi.Input[str]
    tenant_id: str
    graph_base_url: str

    def props(self) -> dict[str, Any]:
        """The target as resource inputs (kept in state; no credential here)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


class SynchronizationSchemaProvider(ResourceProvider):
    """Groups mapping on/off, the exact Users mappings, externalId <- objectId.

    `read` reports how the live schema differs from the configured mappings in
    the `drift` output, so `pulumi refresh` shows portal edits and the next
    `pulumi up` puts the schema back. `delete` leaves the schema alone: it is part
    of the synchronization job, which azuread deletes.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(f"{props['service_principal_id']}/{props['job_id']}", outs)

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            current = _graph.get_schema(props)
        except GraphNotFound:
            return ReadResult("", {})
        return ReadResult(id_, _schema_outs(props, current))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = _changed(olds, news, IDENTITY_INPUTS)
        changed = _changed(olds, news, GRAPH_INPUTS + MAPPING_INPUTS)
        return DiffResult(
            changes=bool(changed or olds.get("drift")),
            replaces=replaces,
            delete_before_replace=False,
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        logger.info(
            "left the schema of synchronization job %s in place; deleting the job "
            "removes it",
            props.get("job_id"),
        )

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        current = _graph.apply_schema(props)
        return _schema_outs(props, current)


class SynchronizationSchema(Resource, module="prompt", name="SynchronizationSchema"):
    """The job schema edited the way Prompt's setup guide says (graph.md 7.5)."""

    drift: pulumi.Output[list[str]]
    rule_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        target: JobTarget,
        groups: bool,
        matching: str,
        user_attributes: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            **target.props(),
            "groups": groups,
            "matching": matching,
            "user_attributes": user_attributes,
            "drift": None,
            "rule_id": None,
        }
        super().__init__(SynchronizationSchemaProvider(), name, props, opts)


class CredentialCheckProvider(ResourceProvider):
    """Test Connection: Entra probes the SCIM endpoint with BaseAddress and token.

    It runs again when the URL, the token (seen through a SHA-256 fingerprint,
    since `olds` are outputs and the token is not one) or the job changes. It
    holds no remote state: `read` returns what it knew, `delete` does nothing.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        _graph.validate_credentials(props)
        return CreateResult(
            f"{props['service_principal_id']}/{props['job_id']}/credentials",
            _check_outs(props),
        )

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> UpdateResult:
        _graph.validate_credentials(news)
        return UpdateResult(_check_outs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {k: v for k, v in props.items() if k != "token"})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = _changed(olds, news, (*GRAPH_INPUTS, "base_address"))
        token = news.get("token")
        if token == pulumi.UNKNOWN or olds.get("token_fingerprint") != _fingerprint(
            token
        ):
            changed.append("token")
        return DiffResult(changes=bool(changed), replaces=[])

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class CredentialCheck(Resource, module="prompt", name="CredentialCheck"):
    """validateCredentials on the job; fails `pulumi up` with Entra's reason."""

    token_fingerprint: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        target: JobTarget,
        base_address: pulumi.Input[str],
        token: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            **target.props(),
            "base_address": base_address,
            "token": pulumi.Output.secret(token),
            "token_fingerprint": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(additional_secret_outputs=["token_fingerprint"]),
        )
        super().__init__(CredentialCheckProvider(), name, props, opts)


class SynchronizationJobStartProvider(ResourceProvider):
    """Provisioning Status On/Off, after schema and assignments are in place.

    Entra warns against calling start on a running job (graph.md section 8), so
    start is sent only when the job is not running. `read` reports the job's
    schedule state and status code; `delete` pauses the job.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = {**_inputs(props), **_graph.set_job_running(props, props["enabled"])}
        return CreateResult(f"{props['service_principal_id']}/{props['job_id']}", outs)

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> UpdateResult:
        return UpdateResult(
            {**_inputs(news), **_graph.set_job_running(news, news["enabled"])}
        )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = _graph.job_state(props)
        if state is None:
            return ReadResult("", {})
        return ReadResult(id_, {**_inputs(props), **state})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = _changed(olds, news, IDENTITY_INPUTS)
        changed = _changed(olds, news, (*GRAPH_INPUTS, "enabled"))
        running = olds.get("running")
        if running is not None and running != news.get("enabled"):
            changed.append("running")
        return DiffResult(changes=bool(changed), replaces=replaces)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _graph.set_job_running(props, False, missing_ok=True)


class SynchronizationJobStart(
    Resource, module="prompt", name="SynchronizationJobStart"
):
    """Starts (or pauses) the synchronization job azuread created stopped."""

    running: pulumi.Output[bool]
    schedule_state: pulumi.Output[str]
    status_code: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        target: JobTarget,
        enabled: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            **target.props(),
            "enabled": enabled,
            "running": None,
            "schedule_state": None,
            "status_code": None,
        }
        super().__init__(SynchronizationJobStartProvider(), name, props, opts)


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if not k.startswith("__")}


def _schema_outs(props: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    return {
        **_inputs(props),
        "drift": _graph.drift(props, current),
        "rule_id": _rule_id(current),
    }


def _check_outs(props: dict[str, Any]) -> dict[str, Any]:
    outs = {k: v for k, v in _inputs(props).items() if k != "token"}
    outs["token_fingerprint"] = _fingerprint(props["token"])
    return outs


def _rule_id(schema: dict[str, Any]) -> str:
    # provisionOnDemand needs the rule id; read it, never hard-code it (graph.md 7.3).
    rules = schema.get("synchronizationRules") or [{}]
    return str(rules[0].get("id") or "")


def _fingerprint(token: Any) -> str:
    return hashlib.sha256(str(token).encode()).hexdigest()


def _changed(
    olds: dict[str, Any], news: dict[str, Any], keys: tuple[str, ...]
) -> list[str]:
    """Keys whose new value is unknown (preview) or differs from the old output."""
    return [
        key
        for key in keys
        if news.get(key) == pulumi.UNKNOWN or olds.get(key) != news.get(key)
    ]
