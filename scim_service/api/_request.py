"""A SCIM request reduced to plain values, handed to the worker thread."""

from __future__ import annotations

import json
from dataclasses import dataclass

from scim_service.errors import ScimError


@dataclass(slots=True)
class ScimRequest:
    """A SCIM request reduced to what the handlers need (no ASGI objects)."""

    method: str
    endpoint: str
    rest: list[str]
    organisation: str | None
    query: dict[str, str]
    authorization: str | None
    content_type: str | None
    body: bytes
    base_url: str
    request_id: str
    route: str = ""
    result_org: str | None = None


def parse_json_body(request: ScimRequest) -> object:
    """Decode a request body as JSON; 415/400 as SCIM errors otherwise."""
    content_type = (request.content_type or "").split(";", 1)[0].strip().lower()
    if content_type and not (
        content_type.endswith("/json") or content_type.endswith("+json")
    ):
        raise ScimError(
            415,
            f"Unsupported Content-Type '{content_type}'; send application/scim+json "
            "or application/json.",
        )
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScimError(
            400, f"The request body is not valid JSON: {exc}.", "invalidSyntax"
        ) from None
