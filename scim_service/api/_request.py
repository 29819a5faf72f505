"""A SCIM request reduced to plain values, handed to the worker thread."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from starlette.types import Receive

from scim_service.errors import ScimError

# A PatchOp nests 6 levels deep at most (value > extension > manager); deeper
# bodies only serve to exhaust the recursion of whatever walks them next.
MAX_JSON_DEPTH = 32
# Strict JSON refuses raw control characters and strict UTF-8 refuses encoded
# surrogates, so only a \u escape can put NUL or a lone surrogate into a string:
# the body is walked for them only when it holds such an escape.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


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


async def read_capped_body(receive: Receive, limit: int) -> bytes | None:
    """Return the whole request body, or None as soon as it grows past `limit`.

    Reads from the ASGI channel itself, so a body too large is never buffered.
    """
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


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
        text = request.body.decode("utf-8-sig")
        parsed = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScimError(
            400, f"The request body is not valid JSON: {exc}.", "invalidSyntax"
        ) from None

    suspect = _SUSPECT_ESCAPE.search(text) is not None
    if suspect or text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        check_json_tree(parsed, strings=suspect)
    return parsed


def check_json_tree(value: object, *, strings: bool = True) -> None:
    """Raise ScimError 400 for nesting deeper than MAX_JSON_DEPTH.

    With `strings`, also for a string or key holding NUL (invalidValue) or a lone
    surrogate (invalidSyntax). Iterative: the depth is what is being checked.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            for key, child in item.items():
                if strings:
                    _check_string(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            stack.extend((child, depth + 1) for child in item)
        elif strings and isinstance(item, str):
            _check_string(item)


def _check_string(text: str) -> None:
    found = _BAD_CHARACTER.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        raise ScimError(
            400,
            "The request body holds the NUL character (\\u0000) in a string; "
            "no SCIM attribute value may contain it. Remove it and retry.",
            "invalidValue",
        )
    raise ScimError(
        400,
        f"The request body holds a lone UTF-16 surrogate (\\u{ord(found.group()):04x}) "
        "in a string, which is not a Unicode character (RFC 8259 section 8.2); "
        "send the character as UTF-8 or as a complete surrogate pair.",
        "invalidSyntax",
    )


def _too_deep() -> ScimError:
    return ScimError(
        400,
        f"The request body nests arrays or objects deeper than {MAX_JSON_DEPTH} "
        "levels; no SCIM resource or PatchOp needs that many.",
        "invalidSyntax",
    )
