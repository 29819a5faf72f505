"""Job status, provisioning logs and provision on demand, parsed by msgraph-sdk."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.audit_logs.provisioning.provisioning_request_builder import (
    ProvisioningRequestBuilder,
)
from msgraph.generated.models.synchronization_job_application_parameters import (
    SynchronizationJobApplicationParameters,
)
from msgraph.generated.models.synchronization_job_subject import (
    SynchronizationJobSubject,
)
from msgraph.generated.service_principals.item.synchronization.jobs.item.provision_on_demand.provision_on_demand_post_request_body import (  # noqa: E501
    ProvisionOnDemandPostRequestBody,
)

from entra_emulator import Emulator

from .graph_sdk import client
from .scim_recorder import RecordingScim
from .tenant_setup import configure

RULE = "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8"


def test_sdk_parses_job_status_after_cycles(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ada = emulator.user("ada.lovelace@contoso.example").id
    ids = configure(graph_url, scim_url, scim.token, [ada])
    emulator.cycle(ids.job_id)
    scim.token = "changed-on-the-prompt-side"
    emulator.cycle(ids.job_id)

    async def scenario() -> None:
        graph = client(graph_url)
        job = (
            await graph.service_principals.by_service_principal_id(ids.sp_id)
            .synchronization.jobs.by_synchronization_job_id(ids.job_id)
            .get()
        )
        status = job.status
        assert status.code.value == "Quarantine"
        assert status.quarantine.reason.value == "EncounteredQuarantineException"
        assert status.quarantine.error.tenant_actionable is True
        assert status.last_execution.state.value == "Failed"
        assert status.last_successful_execution.count_exported == 1
        assert status.last_successful_execution.time_ended is not None
        assert status.synchronized_entry_count_by_type[0].value == 1
        assert job.schedule.interval.total_seconds() == 2400

    asyncio.run(scenario())


def test_sdk_pages_provisioning_logs(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    ids = configure(graph_url, scim_url, scim.token, [], sync_all=True)
    emulator.cycle(ids.job_id)

    async def scenario() -> list[str]:
        graph = client(graph_url)
        params = (
            ProvisioningRequestBuilder.ProvisioningRequestBuilderGetQueryParameters(
                filter=f"servicePrincipal/id eq '{ids.sp_id}'", top=2
            )
        )
        page = await graph.audit_logs.provisioning.get(
            request_configuration=RequestConfiguration(query_parameters=params)
        )
        actions = []
        while True:
            for entry in page.value:
                assert entry.job_id == ids.job_id
                assert entry.activity_date_time is not None
                actions.append(
                    f"{entry.provisioning_action.value}:"
                    f"{entry.provisioning_status_info.status.value}"
                )
            if not page.odata_next_link:
                return actions
            page = await graph.audit_logs.provisioning.with_url(
                page.odata_next_link
            ).get()

    actions = asyncio.run(scenario())
    assert sorted(actions) == ["create:skipped"] + ["create:success"] * 5


def test_sdk_provision_on_demand(
    emulator: Emulator,
    graph_url: str,
    scim: RecordingScim,
    scim_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ada = emulator.user("ada.lovelace@contoso.example").id
    ids = configure(graph_url, scim_url, scim.token, [ada], start=False)

    async def scenario() -> dict[str, object]:
        graph = client(graph_url)
        job = graph.service_principals.by_service_principal_id(
            ids.sp_id
        ).synchronization.jobs.by_synchronization_job_id(ids.job_id)
        body = ProvisionOnDemandPostRequestBody(
            parameters=[
                SynchronizationJobApplicationParameters(
                    rule_id=RULE,
                    subjects=[
                        SynchronizationJobSubject(
                            object_id=ada, object_type_name="User"
                        )
                    ],
                )
            ]
        )
        result = await job.provision_on_demand.post(body)
        outcome: dict[str, object] = json.loads(result.key)
        json.loads(result.value)
        return outcome

    outcome = asyncio.run(scenario())
    assert outcome["result"] == "Success"
    uuid.UUID(str(next(iter(scim.users))))
    assert scim.token not in caplog.text  # never a token in logs


def test_sdk_parse_expression(
    emulator: Emulator, graph_url: str, scim: RecordingScim, scim_url: str
) -> None:
    from msgraph.generated.models.expression_input_object import ExpressionInputObject
    from msgraph.generated.models.string_key_object_value_pair import (
        StringKeyObjectValuePair,
    )
    from msgraph.generated.service_principals.item.synchronization.jobs.item.schema.parse_expression.parse_expression_post_request_body import (  # noqa: E501
        ParseExpressionPostRequestBody,
    )

    ids = configure(graph_url, scim_url, scim.token, [], start=False)

    async def scenario() -> tuple[object, ...]:
        graph = client(graph_url)
        schema = (
            graph.service_principals.by_service_principal_id(ids.sp_id)
            .synchronization.jobs.by_synchronization_job_id(ids.job_id)
            .schema
        )
        given = StringKeyObjectValuePair(
            additional_data={"key": "givenName", "value": "Ada"}
        )
        good = await schema.parse_expression.post(
            ParseExpressionPostRequestBody(
                expression='Join(" ", [givenName], "L.")',
                test_input_object=ExpressionInputObject(properties=[given]),
            )
        )
        bad = await schema.parse_expression.post(
            ParseExpressionPostRequestBody(expression="Nope([x])")
        )
        return (
            good.parsing_succeeded,
            good.parsed_expression.name,
            good.evaluation_result,
            bad.parsing_succeeded,
            bad.error.message,
        )

    ok, name, result, bad_ok, message = asyncio.run(scenario())
    assert (ok, name, result, bad_ok) == (True, "Join", ["Ada L."], False)
    assert "Unknown function 'Nope'" in str(message)
