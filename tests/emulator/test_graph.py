"""The Graph half of the emulator, driven by the real msgraph-sdk over loopback."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.application_templates.item.instantiate.instantiate_post_request_body import (  # noqa: E501
    InstantiatePostRequestBody,
)
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.synchronization_job import SynchronizationJob
from msgraph.generated.models.synchronization_job_restart_criteria import (
    SynchronizationJobRestartCriteria,
)
from msgraph.generated.models.synchronization_schema import SynchronizationSchema
from msgraph.generated.models.synchronization_secret import SynchronizationSecret
from msgraph.generated.models.synchronization_secret_key_string_value_pair import (
    SynchronizationSecretKeyStringValuePair as Pair,
)
from msgraph.generated.service_principals.item.synchronization.jobs.item.restart.restart_post_request_body import (  # noqa: E501
    RestartPostRequestBody,
)
from msgraph.generated.service_principals.item.synchronization.jobs.item.validate_credentials.validate_credentials_post_request_body import (  # noqa: E501
    ValidateCredentialsPostRequestBody,
)
from msgraph.generated.service_principals.item.synchronization.secrets.secrets_put_request_body import (  # noqa: E501
    SecretsPutRequestBody,
)
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from entra_emulator import Emulator

from .graph_sdk import HTTP, TEMPLATE, client, get_json, put_json
from .scim_recorder import RecordingScim

USER_ROLE = "18d14569-c3bd-439b-9a66-3a2aee01d14f"


async def _instantiate(graph: Any, name: str = "Prompt (Acme)") -> tuple[str, str]:
    body = InstantiatePostRequestBody(display_name=name)
    result = await graph.application_templates.by_application_template_id(
        TEMPLATE
    ).instantiate.post(body)
    return result.application.id, result.service_principal.id


def test_instantiate_returns_application_and_service_principal(graph_url: str) -> None:
    async def scenario() -> None:
        graph = client(graph_url)
        body = InstantiatePostRequestBody(display_name="Prompt (Acme)")
        result = await graph.application_templates.by_application_template_id(
            TEMPLATE
        ).instantiate.post(body)

        sp = result.service_principal
        assert result.application.app_id == sp.app_id
        assert sp.application_template_id == TEMPLATE
        roles = {r.display_name: str(r.id) for r in sp.app_roles}
        assert roles == {
            "User": USER_ROLE,
            "msiam_access": "b9632174-c057-4f7e-951b-be3adc52bfe6",
        }

    asyncio.run(scenario())


def test_service_principals_filter_and_select(graph_url: str) -> None:
    async def scenario() -> None:
        graph = client(graph_url)
        _, sp_id = await _instantiate(graph, "Prompt (O'Brien)")
        await _instantiate(graph, "Other")
        await graph.service_principals.by_service_principal_id(sp_id).patch(
            ServicePrincipal(
                tags=["WindowsAzureActiveDirectoryIntegratedApp", "marker:x"]
            )
        )

        builder = ServicePrincipalsRequestBuilder
        query = builder.ServicePrincipalsRequestBuilderGetQueryParameters
        for text in (
            "displayName eq 'Prompt (O''Brien)'",
            "tags/any(t: t eq 'marker:x')",
        ):
            config = RequestConfiguration(
                query_parameters=query(filter=text, select=["id", "appId", "tags"])
            )
            found = await graph.service_principals.get(request_configuration=config)
            assert [s.id for s in found.value] == [sp_id]
            assert found.value[0].display_name is None  # not selected

        app_id = found.value[0].app_id
        by_app = await graph.service_principals_with_app_id(app_id).get()
        assert by_app.id == sp_id
        config = RequestConfiguration(
            query_parameters=query(filter=f"appId eq '{app_id}'")
        )
        found = await graph.service_principals.get(request_configuration=config)
        assert [s.id for s in found.value] == [sp_id]

    asyncio.run(scenario())


def test_delete_application_removes_its_service_principal(graph_url: str) -> None:
    async def scenario() -> None:
        graph = client(graph_url)
        app_object_id, sp_id = await _instantiate(graph)

        await graph.applications.by_application_id(app_object_id).delete()

        with pytest.raises(ODataError) as raised:
            await graph.service_principals.by_service_principal_id(sp_id).get()
        assert raised.value.response_status_code == 404
        assert raised.value.error.code == "Request_ResourceNotFound"

    asyncio.run(scenario())


def test_new_job_is_stopped_and_schema_is_realistic(graph_url: str) -> None:
    async def scenario() -> None:
        graph = client(graph_url)
        _, sp_id = await _instantiate(graph)
        sp = graph.service_principals.by_service_principal_id(sp_id)

        job = await sp.synchronization.jobs.post(SynchronizationJob(template_id="scim"))
        assert job.id.startswith("scim.")
        assert job.schedule.state.value == "Disabled"
        assert job.status.code.value == "NotConfigured"

        schema = await get_json(
            sp.synchronization.jobs.by_synchronization_job_id(job.id).schema
        )
        rule = schema["synchronizationRules"][0]
        assert rule["id"] == "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8"
        mappings = {m["sourceObjectName"]: m for m in rule["objectMappings"]}
        assert mappings["Group"]["enabled"] is True
        assert mappings["User"]["flowTypes"] == "Add, Update, Delete"
        users = {
            a["targetAttributeName"]: a for a in mappings["User"]["attributeMappings"]
        }
        assert users["userName"]["matchingPriority"] == 1
        assert users["externalId"]["source"]["name"] == "mailNickname"
        assert users["active"]["source"]["type"] == "Function"
        assert [d["name"] for d in schema["directories"]] == [
            "Microsoft Entra ID",
            "customappsso",
        ]

        listed = await sp.synchronization.jobs.get()
        assert [j.id for j in listed.value] == [job.id]

    asyncio.run(scenario())


def test_schema_put_replaces_and_patch_answers_404(
    graph_url: str, emulator: Emulator
) -> None:
    async def scenario() -> None:
        graph = client(graph_url)
        _, sp_id = await _instantiate(graph)
        sp = graph.service_principals.by_service_principal_id(sp_id)
        job = await sp.synchronization.jobs.post(SynchronizationJob(template_id="scim"))
        builder = sp.synchronization.jobs.by_synchronization_job_id(job.id).schema

        schema = await get_json(builder)
        groups = schema["synchronizationRules"][0]["objectMappings"][0]
        groups["enabled"] = False
        await put_json(builder, schema)
        assert (await get_json(builder))["synchronizationRules"][0]["objectMappings"][
            0
        ]["enabled"] is False

        with pytest.raises(ODataError) as raised:
            await builder.patch(SynchronizationSchema())
        assert raised.value.response_status_code == 404
        assert "No HTTP resource was found" in raised.value.error.message

        broken = await get_json(builder)
        del broken["synchronizationRules"][0]["objectMappings"][1]["flowTypes"]
        with pytest.raises(ODataError) as raised:
            await put_json(builder, broken)
        assert raised.value.response_status_code == 400

    asyncio.run(scenario())
    assert emulator.writes()["byRoute"] == {
        "POST /applicationTemplates/{template_id}/instantiate": 1,
        "POST /servicePrincipals/{sp}/synchronization/jobs": 1,
        "PUT /servicePrincipals/{sp}/synchronization/jobs/{job}/schema": 1,
    }


def test_secrets_read_back_masked(graph_url: str, emulator: Emulator) -> None:
    async def scenario() -> list[dict[str, str]]:
        graph = client(graph_url)
        _, sp_id = await _instantiate(graph)
        sp = graph.service_principals.by_service_principal_id(sp_id)
        await sp.synchronization.secrets.put(
            SecretsPutRequestBody(
                value=[
                    Pair(
                        key=SynchronizationSecret.BaseAddress,
                        value="https://x.example/scim",
                    ),
                    Pair(key=SynchronizationSecret.SecretToken, value="very-secret"),
                    Pair(key=SynchronizationSecret.SyncAll, value="false"),
                ]
            )
        )
        result: list[dict[str, str]] = (await get_json(sp.synchronization.secrets))[
            "value"
        ]
        return result

    secrets = {s["key"]: s["value"] for s in asyncio.run(scenario())}
    assert secrets == {
        "BaseAddress": "https://x.example/scim",
        "SecretToken": "*",
        "SyncAll": "false",
    }
    assert "very-secret" not in str(emulator.state())


def _validate_body(base: str, token: str) -> ValidateCredentialsPostRequestBody:
    return ValidateCredentialsPostRequestBody(
        use_saved_credentials=False,
        credentials=[
            Pair(key=SynchronizationSecret.BaseAddress, value=base),
            Pair(key=SynchronizationSecret.SecretToken, value=token),
        ],
    )


def test_validate_credentials_probes_users_and_groups(
    graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    async def scenario() -> None:
        graph = client(graph_url)
        _, sp_id = await _instantiate(graph)
        sp = graph.service_principals.by_service_principal_id(sp_id)
        job = await sp.synchronization.jobs.post(SynchronizationJob(template_id="scim"))
        job_builder = sp.synchronization.jobs.by_synchronization_job_id(job.id)

        await job_builder.validate_credentials.post(
            _validate_body(scim_url, scim.token)
        )

        with pytest.raises(ODataError) as raised:
            await job_builder.validate_credentials.post(
                _validate_body(scim_url, "wrong-one")
            )
        assert raised.value.response_status_code == 400
        assert "401" in raised.value.error.message
        assert "wrong-one" not in raised.value.error.message

    asyncio.run(scenario())
    first, second = scim.requests[0], scim.requests[1]
    assert (first.method, first.path) == ("GET", "/scim/Users")
    attribute, _, value = first.query["filter"].partition(" eq ")
    assert attribute == "userName"
    uuid.UUID(value.strip('"'))
    assert first.raw_query.startswith("filter=userName+eq+%22")  # as Entra encodes it
    assert second.path == "/scim/Groups"
    assert second.query["filter"].startswith('displayName eq "')
    assert first.authorization == f"Bearer {scim.token}"


def test_validate_credentials_fails_on_unreachable_endpoint(graph_url: str) -> None:
    async def scenario() -> None:
        graph = client(graph_url)
        _, sp_id = await _instantiate(graph)
        sp = graph.service_principals.by_service_principal_id(sp_id)
        job = await sp.synchronization.jobs.post(SynchronizationJob(template_id="scim"))
        job_builder = sp.synchronization.jobs.by_synchronization_job_id(job.id)
        with pytest.raises(ODataError) as raised:
            await job_builder.validate_credentials.post(
                _validate_body("http://127.0.0.1:9/scim", "t")
            )
        assert raised.value.response_status_code == 400
        assert "Tenant URL" in raised.value.error.message

    asyncio.run(scenario())


def test_job_start_pause_restart(graph_url: str) -> None:
    async def scenario() -> list[tuple[str, str]]:
        graph = client(graph_url)
        _, sp_id = await _instantiate(graph)
        sp = graph.service_principals.by_service_principal_id(sp_id)
        job = await sp.synchronization.jobs.post(SynchronizationJob(template_id="scim"))
        builder = sp.synchronization.jobs.by_synchronization_job_id(job.id)
        states = []
        for action in (builder.start, builder.pause, builder.start):
            await action.post()
            got = await builder.get()
            states.append((got.schedule.state.value, got.status.code.value))
        await builder.restart.post(
            RestartPostRequestBody(
                criteria=SynchronizationJobRestartCriteria(
                    additional_data={
                        "resetScope": "Watermark, Escrows, QuarantineState"
                    }
                )
            )
        )
        got = await builder.get()
        states.append((got.schedule.state.value, got.status.code.value))
        return states

    assert asyncio.run(scenario()) == [
        ("Active", "Active"),
        ("Paused", "Paused"),
        ("Active", "Active"),
        ("Active", "Active"),
    ]


def test_assignments_duplicate_and_lookup(graph_url: str, emulator: Emulator) -> None:
    ada = emulator.user("ada.lovelace@contoso.example").id
    sales = emulator.group("Sales").id

    async def scenario() -> None:
        graph = client(graph_url)
        _, sp_id = await _instantiate(graph)
        sp = graph.service_principals.by_service_principal_id(sp_id)
        body = AppRoleAssignment(
            principal_id=uuid.UUID(ada),
            resource_id=uuid.UUID(sp_id),
            app_role_id=uuid.UUID(USER_ROLE),
        )
        created = await sp.app_role_assigned_to.post(body)
        assert created.principal_type == "User"
        assert created.principal_display_name == "Ada Lovelace"

        with pytest.raises(ODataError) as raised:
            await sp.app_role_assigned_to.post(body)
        assert raised.value.response_status_code == 400
        assert "already exists" in raised.value.error.message

        group_body = AppRoleAssignment(
            principal_id=uuid.UUID(sales),
            resource_id=uuid.UUID(sp_id),
            app_role_id=uuid.UUID(USER_ROLE),
        )
        await sp.app_role_assigned_to.post(group_body)
        listed = await sp.app_role_assigned_to.get()
        assert {str(a.principal_id) for a in listed.value} == {ada, sales}

        params = RequestConfiguration(
            query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                filter=f"resourceId eq {sp_id}"
            )
        )
        mine = await graph.users.by_user_id(ada).app_role_assignments.get(
            request_configuration=params
        )
        assert [a.id for a in mine.value] == [created.id]

        await sp.app_role_assigned_to.by_app_role_assignment_id(created.id).delete()
        listed = await sp.app_role_assigned_to.get()
        assert [str(a.principal_id) for a in listed.value] == [sales]

    asyncio.run(scenario())


def test_users_and_groups_lookup(graph_url: str, emulator: Emulator) -> None:
    async def scenario() -> None:
        graph = client(graph_url)
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters
        config = RequestConfiguration(
            query_parameters=query(
                filter="userPrincipalName eq 'ADA.lovelace@contoso.example'"
            )
        )
        found = await graph.users.get(request_configuration=config)
        assert [u.display_name for u in found.value] == ["Ada Lovelace"]
        assert found.value[0].account_enabled is None  # not in Graph's default set

        by_upn = await graph.users.by_user_id("grace.hopper@contoso.example").get()
        assert by_upn.user_principal_name == "grace.hopper@contoso.example"

        groups = await graph.groups.get()
        assert {g.display_name for g in groups.value} == {"Sales", "Inner", "Outer"}
        by_name = await graph.groups.get(
            request_configuration=RequestConfiguration(
                query_parameters=GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
                    filter="displayName eq 'Sales'"
                )
            )
        )
        assert [g.id for g in by_name.value] == [emulator.group("Sales").id]
        sales = emulator.group("Sales").id
        members = await graph.groups.by_group_id(sales).members.get()
        assert {m.display_name for m in members.value} == {
            "Linus Torvalds",
            "Grace Hopper",
        }

    asyncio.run(scenario())


def test_soft_deleted_user_is_invisible(graph_url: str, emulator: Emulator) -> None:
    emulator.soft_delete_user("alan.turing@contoso.example")
    response = HTTP.get(f"{graph_url}/v1.0/users/alan.turing@contoso.example")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "Request_ResourceNotFound"


def test_unknown_segment_answers_odata_error(graph_url: str) -> None:
    response = HTTP.get(f"{graph_url}/v1.0/nonsense")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


def test_validate_saved_credentials(
    graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    from .tenant_setup import configure

    ids = configure(graph_url, scim_url, scim.token, [], start=False)
    job_url = (
        f"{graph_url}/v1.0/servicePrincipals/{ids.sp_id}/synchronization/jobs/"
        f"{ids.job_id}/validateCredentials"
    )
    assert HTTP.post(job_url, json={"useSavedCredentials": True}).status_code == 204
    scim.token = "rotated-on-the-prompt-side"
    failed = HTTP.post(job_url, json={"useSavedCredentials": True})
    assert failed.status_code == 400
    assert failed.json()["error"]["code"] == "BadRequest"


@pytest.mark.parametrize(
    ("path", "clause", "status"),
    [
        ("/servicePrincipals", "notes eq 'x'", 400),
        ("/servicePrincipals", "tags/any(t:t eq 'x')", 200),
        ("/servicePrincipals", "startswith(displayName,'Pro')", 200),
        ("/applications", "appId eq 'x' or displayName eq 'y'", 200),
        ("/users", "accountEnabled eq false", 200),
        ("/users", "shoeSize eq 44", 400),
        ("/auditLogs/provisioning", "provisioningStatusInfo/status eq 'failure'", 200),
        ("/groups", "displayName eq", 400),
    ],
)
def test_filter_support_follows_graph(
    graph_url: str, path: str, clause: str, status: int
) -> None:
    response = HTTP.get(f"{graph_url}/v1.0{path}", params={"$filter": clause})
    assert response.status_code == status, response.text
