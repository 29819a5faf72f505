"""msgraph-sdk helpers for the tests: a client on the emulator and raw-JSON calls."""

from __future__ import annotations

import json
from typing import Any

import httpx
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

ERRORS: dict[str, Any] = {"XXX": ODataError}
TEMPLATE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
# One client for plain HTTP calls: a new client per call costs ~0.1 s (TLS setup).
HTTP = httpx.Client(timeout=30)


def client(base_url: str) -> GraphServiceClient:
    """Build the SDK client exactly as graph.md 12.1 says, on the emulator."""
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
    adapter.base_url = base_url + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def _info(builder: Any, method: Method) -> RequestInformation:
    info = RequestInformation(method, builder.url_template, builder.path_parameters)
    info.headers.try_add("Accept", "application/json")
    return info


async def get_json(builder: Any) -> dict[str, Any]:
    raw = await builder.request_adapter.send_primitive_async(
        _info(builder, Method.GET), "bytes", ERRORS
    )
    result: dict[str, Any] = json.loads(raw)
    return result


async def put_json(builder: Any, payload: dict[str, Any]) -> None:
    info = _info(builder, Method.PUT)
    info.headers.try_add("Content-Type", "application/json")
    info.content = json.dumps(payload).encode()
    await builder.request_adapter.send_no_response_content_async(info, ERRORS)
