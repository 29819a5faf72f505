"""Discovery endpoints (RFC 7644 section 4): ServiceProviderConfig, Schemas, etc.

They describe the service, not an organisation, so they answer without a token
(scim2-tester and the Microsoft validator read them first).
"""

from __future__ import annotations

from scim_service.api._request import ScimRequest
from scim_service.api._responses import (
    ScimResponse,
    error_response,
    json_response,
    list_response,
)
from scim_service.protocol.schema import (
    RESOURCE_TYPES,
    SCHEMAS,
    resource_type_representation,
    schema_representation,
    service_provider_config,
)
from scim_service.settings import Settings


def answer(request: ScimRequest, settings: Settings) -> ScimResponse:
    """Answer a GET on a discovery endpoint; 405 for any other method."""
    if request.method not in ("GET", "HEAD"):
        # RFC 7644 section 4: these endpoints are read-only.
        return error_response(
            405,
            f"{request.method} is not allowed on /{request.endpoint}; use GET.",
            headers=[(b"allow", b"GET")],
        )

    base = request.base_url
    if request.endpoint == "ServiceProviderConfig":
        if request.rest:
            return _missing(request)
        return json_response(
            200,
            service_provider_config(
                base,
                max_results=settings.max_results,
                etag=False,
                bulk=False,
                search=True,
            ),
        )
    if request.endpoint == "Schemas":
        return _collection(
            request,
            {urn: schema_representation(s, base) for urn, s in SCHEMAS.items()},
        )
    return _collection(
        request,
        {
            name: resource_type_representation(rt, base)
            for name, rt in RESOURCE_TYPES.items()
        },
    )


def _collection(
    request: ScimRequest, items: dict[str, dict[str, object]]
) -> ScimResponse:
    if not request.rest:
        resources = list(items.values())
        return list_response(resources, total=len(resources), start_index=1)
    if len(request.rest) == 1:
        # Schema URNs and resource type names are case-insensitive identifiers.
        wanted = request.rest[0].lower()
        for key, item in items.items():
            if key.lower() == wanted:
                return json_response(200, item)
    return _missing(request)


def _missing(request: ScimRequest) -> ScimResponse:
    name = "/".join(request.rest)
    return error_response(404, f"/{request.endpoint} has no entry '{name}'.")
