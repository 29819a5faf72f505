"""Dynamic providers called directly, over HTTP, against the Entra emulator.

The emulator's validateCredentials probes a real SCIM endpoint: the SCIM service
runs on loopback too, over a SQLite file, and issues the token.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from entra_emulator.server import Emulator
from prompt_pulumi.providers import (
    CredentialCheckProvider,
    JobTarget,
    SynchronizationJobStartProvider,
    SynchronizationSchemaProvider,
)
from provisioning.entra import AppRef, Entra, Timings
from provisioning.errors import CredentialsRejected
from provisioning.graph import GraphConfig, open_client
from provisioning.spec import DEFAULT_USER_ATTRIBUTES
from tests.scim_api._server import ADMIN_KEY, Service, start_service

from .pulumi_harness import PROVIDER_BLOB, TENANT

# Each provider call builds its own Graph client (about 0.2 s here): the file
# takes some 20 s in all, though no single test takes more than about a second.
pytestmark = pytest.mark.slow

FAST = Timings(
    attempts=3, first_delay=0.01, max_delay=0.05, visible_reads=1, read_interval=0.01
)


class Tenant:
    """The emulated tenant: one template instance with a stopped 'scim' job."""

    def __init__(self, emulator: Emulator, base_url: str) -> None:
        self.emulator = emulator
        self.graph = f"{base_url}/v1.0"
        self.app, self.job_id = self._run(self._create)

    def _run(self, step: Any) -> Any:
        async def main() -> Any:
            config = GraphConfig(base_url=self.graph, credential="anonymous")
            async with open_client(config) as client:
                return await step(Entra(client, timings=FAST))

        return asyncio.run(main())

    async def _create(self, entra: Entra) -> tuple[AppRef, str]:
        app = await entra.create_app("acme", "Prompt (Acme Health)")
        job = await entra.create_job(app)
        return app, str(job["id"])

    @property
    def target(self) -> dict[str, Any]:
        return JobTarget(
            service_principal_id=self.app.service_principal_id,
            application_object_id=self.app.application_object_id,
            app_id=self.app.app_id,
            job_id=self.job_id,
            tenant_id=TENANT,
            graph_base_url=self.graph,
        ).props()

    @property
    def schema_url(self) -> str:
        sp, job = self.app.service_principal_id, self.job_id
        return f"{self.graph}/servicePrincipals/{sp}/synchronization/jobs/{job}/schema"

    def job_url(self, action: str = "") -> str:
        sp, job = self.app.service_principal_id, self.job_id
        base = f"{self.graph}/servicePrincipals/{sp}/synchronization/jobs/{job}"
        return f"{base}/{action}" if action else base

    def writes(self, route: str) -> int:
        return int(self.emulator.writes()["byRoute"].get(route, 0))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator()
    with emulator.serve_in_thread() as base_url:
        yield emulator, base_url


@pytest.fixture
def tenant(served: tuple[Emulator, str], monkeypatch: pytest.MonkeyPatch) -> Tenant:
    """A fresh tenant per test (the emulator forgets apps, jobs and counters)."""
    monkeypatch.setenv("PROMPT_GRAPH_CREDENTIAL", "anonymous")
    emulator, base_url = served
    emulator.reset()
    return Tenant(emulator, base_url)


@pytest.fixture(scope="module")
def scim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The Prompt SCIM service with organisation 'acme'."""
    database = tmp_path_factory.mktemp("scim") / "scim.db"
    for service in start_service(f"sqlite:///{database}"):
        service.organisation("acme")
        yield service


def schema_props(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    props = {
        **tenant.target,
        "groups": False,
        "matching": "userName",
        "user_attributes": dict(DEFAULT_USER_ATTRIBUTES),
        "__provider": PROVIDER_BLOB,
    }
    return {**props, **changes}


def object_mapping(schema: dict[str, Any], source: str) -> dict[str, Any]:
    rule = schema["synchronizationRules"][0]
    return next(m for m in rule["objectMappings"] if m["sourceObjectName"] == source)


# -- synchronization schema ------------------------------------------------------

PUT_SCHEMA = "PUT /servicePrincipals/{sp}/synchronization/jobs/{job}/schema"


def test_schema_create_applies_prompts_mappings(tenant: Tenant) -> None:
    result = SynchronizationSchemaProvider().create(schema_props(tenant))
    schema = httpx.get(tenant.schema_url).json()
    users = object_mapping(schema, "User")
    targets = {m["targetAttributeName"]: m for m in users["attributeMappings"]}

    assert result.id == f"{tenant.app.service_principal_id}/{tenant.job_id}"
    assert result.outs is not None
    assert result.outs["drift"] == []
    assert result.outs["rule_id"] == schema["synchronizationRules"][0]["id"]
    assert "__provider" not in result.outs
    assert object_mapping(schema, "Group")["enabled"] is False
    assert set(targets) == set(DEFAULT_USER_ATTRIBUTES)
    assert targets["externalId"]["source"]["name"] == "objectId"
    assert tenant.writes(PUT_SCHEMA) == 1


def test_schema_create_and_update_are_idempotent(tenant: Tenant) -> None:
    provider = SynchronizationSchemaProvider()
    props = schema_props(tenant)
    created = provider.create(props)

    again = provider.create(props)
    updated = provider.update(created.id, {**props, **(created.outs or {})}, props)

    assert tenant.writes(PUT_SCHEMA) == 1
    assert again.outs == created.outs
    assert updated.outs == created.outs


def test_schema_read_reports_portal_drift_and_update_repairs_it(
    tenant: Tenant,
) -> None:
    provider = SynchronizationSchemaProvider()
    props = schema_props(tenant)
    created = provider.create(props)
    state = {**(created.outs or {}), "__provider": PROVIDER_BLOB}

    # An administrator turns the Groups mapping on and maps externalId back to
    # mailNickname in the portal: a full-schema PUT, as the portal sends it.
    schema = httpx.get(tenant.schema_url).json()
    edited = copy.deepcopy(schema)
    object_mapping(edited, "Group")["enabled"] = True
    for mapping in object_mapping(edited, "User")["attributeMappings"]:
        if mapping["targetAttributeName"] == "externalId":
            mapping["source"] = {
                "type": "Attribute",
                "name": "mailNickname",
                "expression": "[mailNickname]",
                "parameters": [],
            }
    assert httpx.put(tenant.schema_url, json=edited).status_code == 204

    read = provider.read(created.id, state)
    assert read.id == created.id
    assert read.outs is not None
    drift = read.outs["drift"]
    assert any("Groups" in line for line in drift)
    assert any("externalId" in line for line in drift)

    diff = provider.diff(created.id, {**read.outs, "__provider": PROVIDER_BLOB}, props)
    assert diff.changes is True
    assert diff.replaces == []

    repaired = provider.update(created.id, read.outs, props)
    assert repaired.outs is not None
    assert repaired.outs["drift"] == []
    assert provider.read(created.id, repaired.outs).outs["drift"] == []  # type: ignore[index]
    assert (
        object_mapping(httpx.get(tenant.schema_url).json(), "Group")["enabled"] is False
    )


def test_schema_diff_without_drift_or_change_is_empty(tenant: Tenant) -> None:
    provider = SynchronizationSchemaProvider()
    props = schema_props(tenant)
    created = provider.create(props)
    olds = {**(created.outs or {}), "__provider": PROVIDER_BLOB}

    assert provider.diff(created.id, olds, props).changes is False


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"groups": True}, []),
        ({"matching": "externalId"}, []),
        ({"user_attributes": {**DEFAULT_USER_ATTRIBUTES, "title": "jobTitle"}}, []),
        ({"graph_base_url": "http://127.0.0.1:1/v1.0"}, []),
        ({"job_id": "scim.other"}, ["job_id"]),
        ({"job_id": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, ["job_id"]),
    ],
)
def test_schema_diff_sees_configuration_changes(
    tenant: Tenant, change: dict[str, Any], replaces: list[str]
) -> None:
    provider = SynchronizationSchemaProvider()
    props = schema_props(tenant)
    created = provider.create(props)

    diff = provider.diff(created.id, created.outs or {}, {**props, **change})

    assert diff.changes is True
    assert diff.replaces == replaces


def test_schema_update_applies_a_changed_mapping_list(tenant: Tenant) -> None:
    provider = SynchronizationSchemaProvider()
    props = schema_props(tenant)
    created = provider.create(props)
    wanted = {**DEFAULT_USER_ATTRIBUTES, "title": "jobTitle"}
    del wanted["displayName"]

    updated = provider.update(
        created.id, created.outs or {}, {**props, "user_attributes": wanted}
    )
    users = object_mapping(httpx.get(tenant.schema_url).json(), "User")

    assert updated.outs is not None
    assert updated.outs["drift"] == []
    assert {m["targetAttributeName"] for m in users["attributeMappings"]} == set(wanted)


def test_schema_read_of_a_deleted_job_reports_the_resource_gone(
    tenant: Tenant,
) -> None:
    provider = SynchronizationSchemaProvider()
    created = provider.create(schema_props(tenant))
    assert httpx.delete(tenant.job_url()).status_code == 204

    read = provider.read(created.id, created.outs or {})

    assert read.id == ""


def test_schema_delete_leaves_the_schema_to_the_job(tenant: Tenant) -> None:
    provider = SynchronizationSchemaProvider()
    created = provider.create(schema_props(tenant))
    before = httpx.get(tenant.schema_url).json()

    provider.delete(created.id, created.outs or {})

    assert httpx.get(tenant.schema_url).json() == before


# -- credential check --------------------------------------------------------------


def check_props(tenant: Tenant, scim: Service, token: str) -> dict[str, Any]:
    return {
        **tenant.target,
        "base_address": scim.scim,
        "token": token,
        "__provider": PROVIDER_BLOB,
    }


def test_credential_check_passes_with_a_live_token_and_keeps_no_token(
    tenant: Tenant, scim: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = scim.token("acme")
    provider = CredentialCheckProvider()

    created = provider.create(check_props(tenant, scim, token))

    assert created.outs is not None
    assert "token" not in created.outs
    assert token not in repr(created.outs)
    assert len(created.outs["token_fingerprint"]) == 64
    assert token not in caplog.text
    read = provider.read(created.id, {**created.outs, "token": token})
    assert read.outs == created.outs


def test_credential_check_fails_up_on_a_refused_token(
    tenant: Tenant, scim: Service
) -> None:
    wrong = "not-a-token-of-acme-" + "x" * 20

    with pytest.raises(CredentialsRejected) as failure:
        CredentialCheckProvider().create(check_props(tenant, scim, wrong))

    assert wrong not in str(failure.value)


def test_credential_check_runs_again_only_when_url_or_token_change(
    tenant: Tenant, scim: Service
) -> None:
    token = scim.token("acme")
    provider = CredentialCheckProvider()
    props = check_props(tenant, scim, token)
    created = provider.create(props)
    olds = created.outs or {}

    assert provider.diff(created.id, olds, props).changes is False
    assert provider.diff(created.id, olds, {**props, "token": "rotated"}).changes
    moved = {**props, "base_address": scim.scim + "/acme"}
    assert provider.diff(created.id, olds, moved).changes
    unknown = {**props, "token": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}
    assert provider.diff(created.id, olds, unknown).changes


VALIDATE = "POST /servicePrincipals/{sp}/synchronization/jobs/{job}/validateCredentials"


def test_credential_check_update_tests_the_rotated_token(
    tenant: Tenant, scim: Service
) -> None:
    provider = CredentialCheckProvider()
    created = provider.create(check_props(tenant, scim, scim.token("acme")))
    rotated = check_props(tenant, scim, scim.token("acme"))

    updated = provider.update(created.id, created.outs or {}, rotated)

    assert updated.outs is not None
    assert tenant.emulator.request_counts[VALIDATE] == 2
    assert (
        updated.outs["token_fingerprint"] != (created.outs or {})["token_fingerprint"]
    )
    assert provider.diff(created.id, updated.outs, rotated).changes is False
    wrong = check_props(tenant, scim, "not-a-token-of-acme-" + "y" * 20)
    with pytest.raises(CredentialsRejected):
        provider.update(created.id, updated.outs, wrong)


def test_credential_check_delete_calls_nothing(tenant: Tenant, scim: Service) -> None:
    provider = CredentialCheckProvider()
    created = provider.create(check_props(tenant, scim, scim.token("acme")))
    requests = sum(tenant.emulator.request_counts.values())

    provider.delete(created.id, created.outs or {})

    assert sum(tenant.emulator.request_counts.values()) == requests
    assert (
        tenant.writes("DELETE /servicePrincipals/{sp}/synchronization/jobs/{job}") == 0
    )


# -- starting the job ---------------------------------------------------------------

START = "POST /servicePrincipals/{sp}/synchronization/jobs/{job}/start"
PAUSE = "POST /servicePrincipals/{sp}/synchronization/jobs/{job}/pause"


def start_props(tenant: Tenant, enabled: bool = True) -> dict[str, Any]:
    return {**tenant.target, "enabled": enabled, "__provider": PROVIDER_BLOB}


def schedule_state(tenant: Tenant) -> str:
    return str(httpx.get(tenant.job_url()).json()["schedule"]["state"])


def test_job_start_starts_once(tenant: Tenant) -> None:
    provider = SynchronizationJobStartProvider()
    props = start_props(tenant)

    created = provider.create(props)
    provider.update(created.id, created.outs or {}, props)

    assert created.outs is not None
    assert created.outs["running"] is True
    assert created.outs["schedule_state"] == "Active"
    assert schedule_state(tenant) == "Active"
    assert tenant.writes(START) == 1


def test_job_start_disabled_leaves_the_job_stopped(tenant: Tenant) -> None:
    created = SynchronizationJobStartProvider().create(start_props(tenant, False))

    assert created.outs is not None
    assert created.outs["running"] is False
    assert schedule_state(tenant) == "Disabled"
    assert tenant.writes(START) == 0


def test_job_start_read_sees_a_portal_pause_and_update_resumes(
    tenant: Tenant,
) -> None:
    provider = SynchronizationJobStartProvider()
    props = start_props(tenant)
    created = provider.create(props)
    assert httpx.post(tenant.job_url("pause")).status_code == 204

    read = provider.read(
        created.id, {**(created.outs or {}), "__provider": PROVIDER_BLOB}
    )
    assert read.outs is not None
    assert read.outs["running"] is False
    assert provider.diff(created.id, read.outs, props).changes is True

    provider.update(created.id, read.outs, props)
    assert schedule_state(tenant) == "Active"
    resumed = provider.read(created.id, read.outs)
    assert resumed.outs is not None
    assert provider.diff(created.id, resumed.outs, props).changes is False


def test_job_start_turned_off_pauses_and_delete_pauses(tenant: Tenant) -> None:
    provider = SynchronizationJobStartProvider()
    created = provider.create(start_props(tenant))

    off = provider.update(created.id, created.outs or {}, start_props(tenant, False))
    assert off.outs is not None
    assert off.outs["running"] is False
    assert schedule_state(tenant) == "Paused"

    provider.update(created.id, off.outs, start_props(tenant))
    provider.delete(created.id, created.outs or {})
    assert schedule_state(tenant) == "Paused"
    assert tenant.writes(PAUSE) == 2


def test_job_start_delete_after_the_job_is_gone_succeeds(tenant: Tenant) -> None:
    provider = SynchronizationJobStartProvider()
    created = provider.create(start_props(tenant))
    assert httpx.delete(tenant.job_url()).status_code == 204

    provider.delete(created.id, created.outs or {})

    assert provider.read(created.id, created.outs or {}).id == ""


# -- credentials only from the environment ------------------------------------------


def test_providers_read_the_graph_credential_from_the_environment(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "default" would go to azure-identity, which has no credential here: the
    # providers must take the kind from the environment, not from an input.
    monkeypatch.setenv("PROMPT_GRAPH_CREDENTIAL", "no-such-kind")

    with pytest.raises(Exception, match="no-such-kind"):
        SynchronizationSchemaProvider().create(schema_props(tenant))
    assert ADMIN_KEY not in repr(schema_props(tenant))
