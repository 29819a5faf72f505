"""Microsoft Graph client for the toolkit: msgraph-sdk with azure-identity credentials.

Raw JSON goes through the SDK's own request adapter (graph.md 1.4), so auth, the
tuned retry handler and the base URL apply to every call; Graph errors map to
provisioning.errors by status and error code.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AnonymousAuthenticationProvider,
    AuthenticationProvider,
)
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware.middleware import BaseMiddleware
from kiota_http.middleware.options import RetryHandlerOption, UrlReplaceHandlerOption
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import APIVersion, GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler
from msgraph_core.middleware.options import GraphTelemetryHandlerOption

from provisioning._hosts import is_loopback
from provisioning.errors import (
    GraphConfigInvalid,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphPermissionDenied,
    GraphSignInFailed,
    GraphThrottled,
    GraphUnavailable,
)

__all__ = [
    "GRAPH_SCOPE",
    "CredentialKind",
    "GraphConfig",
    "build_client",
    "check_base_url",
    "check_credential_kind",
    "close_client",
    "delete",
    "get_json",
    "get_url_json",
    "graph_error",
    "make_credential",
    "open_client",
    "patch_json",
    "post_json",
    "put_json",
]

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_VARIABLES = {
    "AZURE_TENANT_ID": "the tenant id",
    "AZURE_CLIENT_ID": "the automation app registration's application id",
    "AZURE_CLIENT_SECRET": "a client secret of that app registration",
    "AZURE_FEDERATED_TOKEN_FILE": "the path of the federated token file",
}
_SIGN_IN_ADVICE = {
    "default": "DefaultAzureCredential tries the AZURE_* variables, workload "
    "identity, managed identity and az login; set one of them up for this tenant "
    "(-vv shows each attempt).",
    "client-secret": "Check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (the secret's "
    "value, not its id) and that the app registration is consented in the tenant.",
    "workload-identity": "Check AZURE_CLIENT_ID, the app registration's federated "
    "credential (issuer, subject, audience api://AzureADTokenExchange) and that "
    "the token in AZURE_FEDERATED_TOKEN_FILE has not expired.",
    "anonymous": "",
}
CredentialKind = Literal["default", "client-secret", "workload-identity", "anonymous"]
_API_VERSIONS = ("/v1.0", "/beta")
_ERROR_MAP: dict[str, type[APIError]] = {"XXX": ODataError}


@dataclass(frozen=True)
class GraphConfig:
    """How to reach Graph: base URL, credential kind, retry tuning.

    `tenant_id` overrides AZURE_TENANT_ID, so one multi-tenant automation app can
    serve every organisation's tenant. `retry_delay` is the base delay the SDK's
    RetryHandler adds to its backoff; a Retry-After header always wins. `transport`
    and `token_credential` exist for tests and embedding (Pulumi, Ansible).
    """

    base_url: str = "https://graph.microsoft.com/v1.0"
    credential: CredentialKind = "default"
    tenant_id: str | None = None
    scopes: tuple[str, ...] = (GRAPH_SCOPE,)
    max_retries: int = 5
    retry_delay: float = 3.0
    timeout: float = 60.0
    transport: httpx.AsyncBaseTransport | None = None
    token_credential: Any = None
    environ: Mapping[str, str] | None = None


# The credential (and the HTTP client) behind each client, so close_client can
# release them; GraphServiceClient has no close of its own.
_RESOURCES: weakref.WeakKeyDictionary[GraphServiceClient, tuple[Any, ...]] = (
    weakref.WeakKeyDictionary()
)


def build_client(config: GraphConfig) -> GraphServiceClient:
    """Return a GraphServiceClient for `config`; release it with close_client."""
    host = _checked_base_url(config)
    credential = make_credential(config)

    auth: AuthenticationProvider
    if credential is None:
        auth = AnonymousAuthenticationProvider()
    else:
        # Explicit scopes: without them kiota asks for "<request host>/.default"
        # (graph.md 1.2). Allowed hosts keep the token from following a nextLink
        # to any other host.
        signed: Any = _SignIn(credential, config)  # an AsyncTokenCredential
        auth = AzureIdentityAuthenticationProvider(
            signed, scopes=list(config.scopes), allowed_hosts=[host]
        )

    http = httpx.AsyncClient(transport=config.transport, timeout=config.timeout)
    http = GraphClientFactory.create_with_custom_middleware(
        _middleware(config), client=http
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = config.base_url.rstrip("/")
    client = GraphServiceClient(request_adapter=adapter)
    _RESOURCES[client] = (http, credential)
    log.debug("Graph client for %s (credential %s)", config.base_url, config.credential)
    return client


async def close_client(client: GraphServiceClient) -> None:
    """Close the HTTP client and the credential behind `client`."""
    http, credential = _RESOURCES.pop(client, (None, None))
    if http is not None:
        await http.aclose()
    close = getattr(credential, "close", None)
    if close is not None:
        result = close()
        if hasattr(result, "__await__"):
            await result


@asynccontextmanager
async def open_client(config: GraphConfig) -> AsyncIterator[GraphServiceClient]:
    """Build a client for the duration of a `async with` block."""
    client = build_client(config)
    try:
        yield client
    finally:
        await close_client(client)


def _checked_base_url(config: GraphConfig) -> str:
    check_base_url(config.base_url)
    check_credential_kind(config.base_url, config.credential)
    return urlsplit(config.base_url).hostname or ""


def check_base_url(base_url: str) -> None:
    """Raise GraphConfigInvalid unless `base_url` is an https (or loopback) API root.

    The SDK appends paths such as /servicePrincipals to it, so it must end in the
    API version (/v1.0, or /beta).
    """
    parts = urlsplit(base_url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and is_loopback(parts.hostname or "")
    ):
        raise GraphConfigInvalid(
            f"Graph base URL {base_url!r} must use https (plain http is "
            f"allowed only on loopback, e.g. http://127.0.0.1:8765/v1.0)."
        )
    if not parts.path.rstrip("/").endswith(_API_VERSIONS):
        raise GraphConfigInvalid(
            f"Graph base URL {base_url!r} must end in the API version /v1.0, e.g. "
            f"https://graph.microsoft.com/v1.0 or, for the emulator, "
            f"http://127.0.0.1:8765/v1.0."
        )


def check_credential_kind(base_url: str, credential: str) -> None:
    """Raise GraphConfigInvalid for 'anonymous' with a Graph URL off loopback."""
    if credential == "anonymous" and not is_loopback(urlsplit(base_url).hostname or ""):
        raise GraphConfigInvalid(
            f"Credential 'anonymous' sends no token and is only for the local "
            f"emulator; {base_url!r} is not a loopback address. Use "
            f"'default', 'client-secret' or 'workload-identity'."
        )


def make_credential(config: GraphConfig) -> Any:
    """Return the azure-identity credential for config.credential (None: anonymous)."""
    if config.token_credential is not None:
        return config.token_credential
    if config.credential == "anonymous":
        return None

    from azure.identity import aio

    env = os.environ if config.environ is None else config.environ
    tenant = config.tenant_id or env.get("AZURE_TENANT_ID")
    if config.credential == "default":
        # DefaultAzureCredential covers environment, workload identity, managed
        # identity and az login (graph.md 13). It takes no tenant of its own: each
        # token is asked for the configured tenant instead (multi-tenant
        # authentication), so an organisation is never set up in whatever tenant
        # the environment or `az login` points at.
        if not config.tenant_id:
            return aio.DefaultAzureCredential()
        chain = aio.DefaultAzureCredential(
            additionally_allowed_tenants=[config.tenant_id]
        )
        return _TenantCredential(chain, config.tenant_id)
    if config.credential == "client-secret":
        names = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
        client_id, secret = _required(env, names, config.credential, tenant)
        return aio.ClientSecretCredential(str(tenant), client_id, secret)
    if config.credential == "workload-identity":
        names = ("AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE")
        client_id, token_file = _required(env, names, config.credential, tenant)
        _check_token_file(token_file)
        return aio.WorkloadIdentityCredential(
            tenant_id=str(tenant), client_id=client_id, token_file_path=token_file
        )
    raise GraphConfigInvalid(
        f"Unknown Graph credential kind {config.credential!r}: use default, "
        f"client-secret, workload-identity or anonymous."
    )


class _TenantCredential:
    """An async azure-identity credential whose tokens are all for one tenant.

    Managed identity ignores the tenant (its tokens are for its home tenant).
    """

    def __init__(self, credential: Any, tenant_id: str) -> None:
        self.credential = credential
        self.tenant_id = tenant_id

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """Return a token for `scopes` in the configured tenant."""
        kwargs["tenant_id"] = self.tenant_id
        return await self.credential.get_token(*scopes, **kwargs)

    async def close(self) -> None:
        """Close the wrapped credential."""
        await self.credential.close()


def _required(
    env: Mapping[str, str], names: tuple[str, ...], kind: str, tenant: str | None
) -> list[str]:
    missing = [name for name in names if not env.get(name)]
    if not tenant:
        missing.insert(0, "AZURE_TENANT_ID")
    if missing:
        unset = " and ".join(f"{name} ({_VARIABLES[name]})" for name in missing)
        raise GraphConfigInvalid(
            f"--credential {kind} needs {unset}: "
            f"{'it is' if len(missing) == 1 else 'they are'} not set or empty; "
            f"export {'it' if len(missing) == 1 else 'them'} for the automation "
            "identity."
        )
    return [env[name] for name in names]


def _check_token_file(path: str) -> None:
    """Refuse a federated token file that cannot be read, before any request.

    azure-identity reads it only on the first token request and lets the OSError
    through untranslated.
    """
    where = Path(path)
    problem = None
    if not where.exists():
        problem = "no such file"
    elif not where.is_file():
        problem = "not a regular file"
    elif not os.access(where, os.R_OK):
        problem = "not readable by this user"
    if problem is None:
        return
    raise GraphConfigInvalid(
        f"AZURE_FEDERATED_TOKEN_FILE={path}: {problem}; the CI step that writes the "
        "federated token must run first (GitHub Actions: the step that requests "
        "the OIDC token, as in examples/gitops), or point the variable at the "
        "projected service account token (Kubernetes workload identity)."
    )


class _SignIn:
    """An async credential whose failures are GraphSignInFailed with what to check.

    azure-identity raises ClientAuthenticationError (CredentialUnavailableError
    included) when the token request is refused or the credential is not set up,
    and ServiceRequestError when the identity platform cannot be reached.
    """

    def __init__(self, credential: Any, config: GraphConfig) -> None:
        self.credential = credential
        self.kind = config.credential
        env = os.environ if config.environ is None else config.environ
        self.tenant = config.tenant_id or env.get("AZURE_TENANT_ID") or "(none)"

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """Return the inner credential's token; GraphSignInFailed if it has none."""
        try:
            token = self.credential.get_token(*scopes, **kwargs)
            return await token if inspect.isawaitable(token) else token
        except ClientAuthenticationError as error:
            said = " ".join(str(error.message or error).split())[:600]
            problem = f"the token request failed: {said}. {_SIGN_IN_ADVICE[self.kind]}"
        except ServiceRequestError as error:
            problem = (
                "the Microsoft identity platform (login.microsoftonline.com, or "
                f"AZURE_AUTHORITY_HOST) could not be reached ({type(error).__name__}); "
                "check the network and proxy settings."
            )
        raise GraphSignInFailed(
            f"Could not sign in to Microsoft Graph for tenant {self.tenant} with "
            f"--credential {self.kind}: {problem}"
        ) from None


def _middleware(config: GraphConfig) -> list[BaseMiddleware]:
    """The SDK's default chain with a tuned RetryHandler, plus a request log."""
    options = {
        RetryHandlerOption.get_key(): RetryHandlerOption(
            delay=config.retry_delay, max_retries=config.max_retries
        ),
        UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(
            enabled=True, replacement_pairs={"/users/me-token-to-replace": "/me"}
        ),
    }
    chain = KiotaClientFactory.get_default_middleware(options)
    telemetry = GraphTelemetryHandlerOption(api_version=APIVersion.v1)
    chain.append(GraphTelemetryHandler(options=telemetry))
    chain.append(_RequestLog())
    return chain


class _RequestLog(BaseMiddleware):
    """Log each attempt (after the retry handler) at DEBUG: method, URL, status.

    Headers are never logged: they carry the bearer token.
    """

    async def send(
        self, request: httpx.Request, transport: httpx.AsyncBaseTransport
    ) -> httpx.Response:
        started = time.monotonic()
        try:
            response = await super().send(request, transport)
        except httpx.TransportError as error:
            log.debug("%s %s failed: %s", request.method, request.url, type(error))
            raise

        elapsed = (time.monotonic() - started) * 1000
        attempt = request.headers.get("Retry-Attempt")
        log.debug(
            "%s %s -> %d (%.0f ms%s)",
            request.method,
            request.url,
            response.status_code,
            elapsed,
            f", retry {attempt}" if attempt else "",
        )
        if response.status_code in (429, 503, 504):
            log.warning(
                "Graph answered %d to %s %s (Retry-After: %s)",
                response.status_code,
                request.method,
                request.url.path,
                response.headers.get("Retry-After", "none"),
            )
        return response


def _request(
    builder: Any, method: Method, query: Mapping[str, Any] | None = None
) -> RequestInformation:
    # Built by hand, so builders without a generated GET (synchronization.secrets)
    # work too (graph.md 1.4).
    info = RequestInformation(
        method, builder.url_template, dict(builder.path_parameters)
    )
    info.headers.try_add("Accept", "application/json")
    for name, value in (query or {}).items():
        info.query_parameters[f"%24{name.lstrip('$')}"] = value
    return info


def _with_body(info: RequestInformation, payload: Any) -> RequestInformation:
    info.headers.try_add("Content-Type", "application/json")
    info.content = json.dumps(payload).encode()
    return info


def _no_retry(info: RequestInformation) -> RequestInformation:
    info.add_request_options([RetryHandlerOption(max_retries=0, delay=0)])
    return info


async def _send(builder: Any, info: RequestInformation) -> Any:
    raw = await builder.request_adapter.send_primitive_async(info, "bytes", _ERROR_MAP)
    if not raw:
        return None
    return json.loads(raw)


async def get_json(
    builder: Any, *, query: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """GET the builder's URL and return the JSON body untouched."""
    body = await _send(builder, _request(builder, Method.GET, query))
    return body if isinstance(body, dict) else {}


async def get_url_json(builder: Any, url: str) -> dict[str, Any]:
    """GET an absolute URL Graph gave (an @odata.nextLink) through the same adapter."""
    info = RequestInformation(Method.GET)
    info.url = url
    info.headers.try_add("Accept", "application/json")
    body = await _send(builder, info)
    return body if isinstance(body, dict) else {}


async def put_json(builder: Any, payload: Any) -> None:
    """PUT `payload` as raw JSON (schema, secrets: the SDK's models drop fields)."""
    await _send(builder, _with_body(_request(builder, Method.PUT), payload))


async def patch_json(builder: Any, payload: Any) -> None:
    """PATCH `payload` as raw JSON."""
    await _send(builder, _with_body(_request(builder, Method.PATCH), payload))


async def post_json(
    builder: Any, payload: Any = None, *, retry: bool = True
) -> dict[str, Any] | None:
    """POST `payload` (or nothing) and return the JSON answer, None on 204.

    retry=False switches the SDK's retry handler off for this request: a POST
    retried after a 503 may have been executed already (graph.md 2.1).
    """
    info = _request(builder, Method.POST)
    if payload is not None:
        _with_body(info, payload)
    if not retry:
        _no_retry(info)
    body = await _send(builder, info)
    return body if isinstance(body, dict) else None


async def delete(builder: Any) -> None:
    """DELETE the builder's URL."""
    await _send(builder, _request(builder, Method.DELETE))


def graph_error(
    error: BaseException,
    *,
    action: str,
    permission: str | None = None,
    secrets: tuple[str, ...] = (),
) -> GraphError:
    """Translate an SDK or transport error into our tree, by status and code.

    `action` says what was attempted on which object ("save synchronization
    secrets for 'acme' (service principal 1f2e...)"); `permission` is what to
    grant on 403; `secrets` are scrubbed from Graph's message.
    """
    if isinstance(error, httpx.TransportError):
        return GraphUnavailable(
            f"Could not {action}: Graph could not be reached "
            f"({type(error).__name__}). Check the network and the Graph base URL."
        )

    status, code, detail, request_id = _details(error)
    for secret in secrets:
        if secret:
            detail = detail.replace(secret, "***")
    said = f"Graph answered {status} {code}" + (f": {detail}" if detail else "")
    where = f" (request-id {request_id})" if request_id else ""
    kwargs: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}

    if status in (401, 403):
        grant = (
            f"grant {permission} to the automation identity (admin consent)"
            if permission
            else "check the automation identity's Graph permissions"
        )
        if status == 401:
            grant = "check the credential (AZURE_* variables, az login)"
        return GraphPermissionDenied(f"Could not {action}: {said} - {grant}.", **kwargs)
    if status == 404:
        return GraphNotFound(f"Could not {action}: {said}{where}.", **kwargs)
    if status == 409:
        return GraphConflict(f"Could not {action}: {said}{where}.", **kwargs)
    if status == 429:
        wait = _header(error, "Retry-After") or "?"
        return GraphThrottled(
            f"Could not {action}: Graph kept answering 429 (Retry-After {wait} s) "
            f"after the retries; run again later or lower the concurrency.",
            **kwargs,
        )
    if status is not None and status >= 500:
        return GraphUnavailable(
            f"Could not {action}: {said}{where}; Graph is failing, run again later.",
            **kwargs,
        )
    return GraphError(f"Could not {action}: {said}{where}.", **kwargs)


def _details(error: BaseException) -> tuple[int | None, str, str, str | None]:
    """Return status, code, message and request-id of an SDK error."""
    status = getattr(error, "response_status_code", None)
    code, message, request_id = "UnknownError", "", None
    odata = getattr(error, "error", None) if isinstance(error, ODataError) else None
    if odata is not None:
        code = odata.code or code
        message = odata.message or ""
        inner = getattr(odata, "inner_error", None)
        request_id = getattr(inner, "request_id", None) if inner else None
    # Synchronization errors come from syncfabric with the message itself a JSON
    # document (graph.md 1.3); show its text, keep the raw message otherwise.
    if message.startswith("{"):
        try:
            inner_doc = json.loads(message)
        except ValueError:
            inner_doc = None
        if isinstance(inner_doc, dict):
            message = str(
                inner_doc.get("Message") or inner_doc.get("message") or message
            )
    return status, code, message.strip(), request_id


def _header(error: BaseException, name: str) -> str | None:
    headers = getattr(error, "response_headers", None)
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return str(value) if value is not None else None
