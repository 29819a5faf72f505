"""Tests of provisioning.graph: client building, raw JSON, retries, error mapping.

Graph's odd answers (429 with Retry-After, ODataError bodies) are scripted with
httpx.MockTransport behind the SDK's real middleware chain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from azure.identity.aio import (
    ClientSecretCredential,
    DefaultAzureCredential,
    WorkloadIdentityCredential,
)

from provisioning.entra import AppRef, Entra
from provisioning.errors import (
    GraphConfigInvalid,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphPermissionDenied,
    GraphThrottled,
    GraphUnavailable,
)
from provisioning.graph import (
    GRAPH_SCOPE,
    GraphConfig,
    build_client,
    close_client,
    get_json,
    graph_error,
    make_credential,
    open_client,
    post_json,
    put_json,
)

TOKEN = "eyJ0eXAi.fake-graph-access-token.SIGNATURE"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeCredential:
    """An async azure-identity credential that hands out a fixed token."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True


def odata_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"request-id": "req-1", "date": "2026-12-03T00:00:00"},
        }
    }
    return httpx.Response(status, json=body, headers=headers)


def config(handler: Handler, **overrides: Any) -> GraphConfig:
    values: dict[str, Any] = {
        "transport": httpx.MockTransport(handler),
        "retry_delay": 0.0,
        "token_credential": FakeCredential(),
    }
    values.update(overrides)
    return GraphConfig(**values)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_retry_after_is_honoured_by_the_sdk_retry_handler() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return odata_error(
                429, "TooManyRequests", "slow down", **{"Retry-After": "1"}
            )
        return httpx.Response(200, json={"value": [{"id": "sp-1"}]})

    async def scenario() -> tuple[dict[str, Any], float]:
        async with open_client(config(handler)) as client:
            started = time.monotonic()
            body = await get_json(client.service_principals)
            return body, time.monotonic() - started

    body, elapsed = run(scenario())

    assert body == {"value": [{"id": "sp-1"}]}
    assert len(seen) == 2
    assert seen[1].headers["Retry-Attempt"] == "1"
    assert elapsed >= 1.0


def test_throttling_that_outlasts_the_retries_raises_graph_throttled() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return odata_error(429, "TooManyRequests", "slow down", **{"Retry-After": "7"})

    async def scenario() -> None:
        async with open_client(config(handler, max_retries=0)) as client:
            try:
                await get_json(client.service_principals)
            except Exception as error:
                raise graph_error(error, action="list service principals") from None

    with pytest.raises(GraphThrottled, match=r"Retry-After 7 s") as caught:
        run(scenario())
    assert caught.value.status == 429


@pytest.mark.parametrize(
    ("status", "code", "error_class", "text"),
    [
        (
            403,
            "Authorization_RequestDenied",
            GraphPermissionDenied,
            "grant Synchronization.ReadWrite.All to the automation identity",
        ),
        (
            401,
            "InvalidAuthenticationToken",
            GraphPermissionDenied,
            "check the credential",
        ),
        (
            404,
            "Request_ResourceNotFound",
            GraphNotFound,
            "404 Request_ResourceNotFound",
        ),
        (409, "Conflict", GraphConflict, "409 Conflict"),
        (503, "ServiceUnavailable", GraphUnavailable, "run again later"),
        (400, "Request_BadRequest", GraphError, "400 Request_BadRequest"),
    ],
)
def test_odata_errors_map_by_status_and_code(
    status: int, code: str, error_class: type[GraphError], text: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return odata_error(status, code, "Graph said no")

    async def scenario() -> None:
        async with open_client(config(handler, max_retries=0)) as client:
            builder = client.service_principals.by_service_principal_id("sp-1")
            try:
                await put_json(builder.synchronization.secrets, {"value": []})
            except Exception as error:
                raise graph_error(
                    error,
                    action="save the synchronization secrets of 'acme'",
                    permission="Synchronization.ReadWrite.All",
                ) from None

    with pytest.raises(error_class) as caught:
        run(scenario())

    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.code) == (status, code)
    assert "save the synchronization secrets of 'acme'" in str(error)
    assert text in str(error)


def test_syncfabric_json_message_is_unwrapped_and_secrets_scrubbed() -> None:
    inner = json.dumps({"Message": f"Token {TOKEN} was refused by the endpoint"})

    def handler(request: httpx.Request) -> httpx.Response:
        return odata_error(400, "BadRequest", inner)

    async def scenario() -> None:
        async with open_client(config(handler)) as client:
            try:
                await get_json(client.service_principals)
            except Exception as error:
                raise graph_error(error, action="test", secrets=(TOKEN,)) from None

    with pytest.raises(GraphError) as caught:
        run(scenario())
    assert "Token *** was refused by the endpoint" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_transport_failure_is_graph_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def scenario() -> None:
        async with open_client(config(handler)) as client:
            try:
                await get_json(client.service_principals)
            except Exception as error:
                raise graph_error(error, action="list service principals") from None

    with pytest.raises(GraphUnavailable, match="could not be reached"):
        run(scenario())


def test_raw_put_sends_the_schema_untouched_with_put() -> None:
    schema = {
        "synchronizationRules": [
            {"objectMappings": [{"flowTypes": "Add, Update, Delete", "future": [1]}]}
        ],
        "directories": [{"discoverabilities": "AttributeNames"}],
        "scope": None,
    }
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    async def scenario() -> None:
        async with open_client(config(handler)) as client:
            job = client.service_principals.by_service_principal_id(
                "sp-1"
            ).synchronization.jobs.by_synchronization_job_id("scim.1")
            await put_json(job.schema, schema)

    run(scenario())

    assert sent[0].method == "PUT"
    assert (
        sent[0].url.path
        == "/v1.0/servicePrincipals/sp-1/synchronization/jobs/scim.1/schema"
    )
    assert json.loads(sent[0].content) == schema


def test_post_without_retry_is_sent_once_on_503() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return odata_error(503, "ServiceUnavailable", "busy", **{"Retry-After": "1"})

    async def scenario(retry: bool) -> None:
        async with open_client(config(handler, max_retries=1)) as client:
            builder = client.application_templates.by_application_template_id(
                "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
            ).instantiate
            with pytest.raises(Exception) as caught:
                await post_json(builder, {"displayName": "Prompt"}, retry=retry)
            assert isinstance(graph_error(caught.value, action="x"), GraphUnavailable)

    run(scenario(False))
    assert len(sent) == 1
    sent.clear()
    run(scenario(True))
    assert len(sent) == 2


def test_requests_go_to_the_configured_base_url_with_explicit_scopes() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"value": []})

    credential = FakeCredential()
    settings = config(
        handler, base_url="http://127.0.0.1:8765/v1.0", token_credential=credential
    )

    async def scenario() -> None:
        client = build_client(settings)
        await get_json(
            client.service_principals, query={"filter": "displayName eq 'a'"}
        )
        await close_client(client)

    run(scenario())

    assert str(sent[0].url).startswith("http://127.0.0.1:8765/v1.0/servicePrincipals?")
    assert sent[0].url.params["$filter"] == "displayName eq 'a'"
    assert sent[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert credential.scopes == [(GRAPH_SCOPE,)]
    assert credential.closed


def test_token_and_authorization_header_never_reach_the_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "PUT":
            return odata_error(403, "Authorization_RequestDenied", "Insufficient")
        return httpx.Response(200, json={"value": []})

    async def scenario() -> None:
        async with open_client(config(handler)) as client:
            await get_json(client.service_principals)
            secrets = client.service_principals.by_service_principal_id(
                "sp"
            ).synchronization
            with pytest.raises(Exception) as caught:
                await put_json(
                    secrets.secrets,
                    {"value": [{"key": "SecretToken", "value": "s3cr3t"}]},
                )
            logging.getLogger("test").error("%s", graph_error(caught.value, action="x"))

    with caplog.at_level(logging.DEBUG):
        run(scenario())

    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in sent)
    assert any(r.name == "provisioning.graph" for r in caplog.records)
    assert TOKEN not in caplog.text
    assert "Bearer" not in caplog.text
    assert "s3cr3t" not in caplog.text


@pytest.mark.parametrize(
    ("base_url", "credential", "problem"),
    [
        ("http://graph.example.com/v1.0", "default", "must use https"),
        ("https://graph.microsoft.com/v1.0", "anonymous", "not a loopback address"),
        ("ftp://127.0.0.1/v1.0", "anonymous", "must use https"),
    ],
)
def test_unsafe_base_url_is_refused(
    base_url: str, credential: Any, problem: str
) -> None:
    with pytest.raises(GraphConfigInvalid, match=problem):
        build_client(GraphConfig(base_url=base_url, credential=credential))


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:9/v1.0", "http://localhost:9/v1.0", "http://[::1]:9/v1.0"],
)
def test_anonymous_is_allowed_on_loopback(base_url: str) -> None:
    async def scenario() -> None:
        client = build_client(GraphConfig(base_url=base_url, credential="anonymous"))
        assert client.request_adapter.base_url == base_url
        await close_client(client)

    run(scenario())


def test_client_secret_credential_reads_the_environment() -> None:
    env = {
        "AZURE_TENANT_ID": "t-1",
        "AZURE_CLIENT_ID": "c-1",
        "AZURE_CLIENT_SECRET": "x",
    }

    credential = make_credential(GraphConfig(credential="client-secret", environ=env))

    assert isinstance(credential, ClientSecretCredential)
    run(credential.close())


def test_missing_credential_variables_are_named() -> None:
    env = {"AZURE_CLIENT_ID": "c-1"}

    with pytest.raises(
        GraphConfigInvalid, match=r"AZURE_TENANT_ID \(.*\) and AZURE_CLIENT_SECRET \("
    ):
        make_credential(GraphConfig(credential="client-secret", environ=env))


def test_workload_identity_uses_the_federated_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "oidc.jwt"
    token_file.write_text("header.payload.signature")
    env = {"AZURE_CLIENT_ID": "c-1", "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}

    credential = make_credential(
        GraphConfig(credential="workload-identity", tenant_id="t-9", environ=env)
    )

    assert isinstance(credential, WorkloadIdentityCredential)
    run(credential.close())


def test_default_credential_is_the_azure_identity_chain() -> None:
    credential = make_credential(GraphConfig(credential="default", environ={}))

    assert isinstance(credential, DefaultAzureCredential)
    run(credential.close())


def test_restart_sends_reset_scope_as_a_string_through_the_adapter() -> None:
    # The SDK's restart model drops the resetScope flags (graph.md 8).
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    async def scenario() -> None:
        async with open_client(config(handler)) as client:
            app = AppRef("app-1", "client-1", "sp-1", slug="acme")
            await Entra(client).restart_job(app, "scim.1")

    run(scenario())

    (request,) = sent
    assert request.method == "POST"
    assert request.url.path == (
        "/v1.0/servicePrincipals/sp-1/synchronization/jobs/scim.1/restart"
    )
    assert json.loads(request.content) == {
        "criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
