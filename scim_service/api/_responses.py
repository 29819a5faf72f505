"""SCIM response bodies: Error JSON (RFC 7644 section 3.12) and ListResponse."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SCIM_MEDIA_TYPE = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@dataclass
class ScimResponse:
    """What a SCIM handler answers, before it is written to the wire."""

    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    scim_type: str | None = None


def dumps(payload: object) -> bytes:
    """Serialise a JSON payload compactly (the hot path: no pretty printing)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    # A lone surrogate (quoted from a request in an error detail, or stored
    # before bodies were checked) cannot be UTF-8: it goes out as its JSON
    # escape, so writing an answer, an error above all, never fails itself.
    return text.encode("utf-8", "backslashreplace")


def json_response(
    status: int,
    payload: object,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> ScimResponse:
    """Answer `payload` as application/scim+json."""
    return ScimResponse(status, dumps(payload), headers or [])


def error_response(
    status: int,
    detail: str,
    scim_type: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> ScimResponse:
    """Answer a SCIM Error; `status` is a string in the body (RFC 7644 3.12)."""
    payload: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(status)}
    if scim_type:
        payload["scimType"] = scim_type
    payload["detail"] = detail
    response = json_response(status, payload, headers)
    response.scim_type = scim_type
    return response


def list_response(
    resources: list[dict[str, Any]],
    *,
    total: int,
    start_index: int,
) -> ScimResponse:
    """Answer a ListResponse; `Resources` is present even when empty (Entra)."""
    return json_response(
        200,
        {
            "schemas": [LIST_URN],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": len(resources),
            "Resources": resources,
        },
    )


def internal_error(request_id: str) -> ScimResponse:
    """Answer an unexpected failure without leaking anything but the request id."""
    return error_response(
        500,
        f"Internal error while handling the request (request id {request_id}); "
        "it has been logged. Retry later or report the request id.",
    )
