"""SCIM filter expressions (RFC 7644 section 3.4.2.2): parse, validate, evaluate."""

from __future__ import annotations

from typing import Any

from scim_service.errors import ScimError
from scim_service.protocol.schema import ResourceType


class Filter:
    """A parsed filter expression."""

    def __init__(self, text: str) -> None:
        self.text = text

    def matches(self, rep: dict[str, Any], rt: ResourceType) -> bool:
        """Return True when the rendered representation satisfies the filter."""
        return True


def parse_filter(text: str) -> Filter:
    """Parse a filter; raise ScimError(400, ..., "invalidFilter") when malformed."""
    if not text.strip():
        raise ScimError(400, "The filter is empty.", "invalidFilter")
    return Filter(text)


def validate_filter(f: Filter, rt: ResourceType) -> None:
    """Raise ScimError 400 invalidFilter when the filter names unknown attributes."""


def index_terms(f: Filter, rt: ResourceType) -> dict[str, str] | None:
    """Return equalities every match must satisfy, usable as an index lookup."""
    return None
