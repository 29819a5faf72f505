"""Errors of the SCIM service.

ScimServiceError
 +-- ScimError                 answered as SCIM Error JSON (RFC 7644 section 3.12)
 +-- StoreError
      +-- StoreUnavailable     the database cannot be reached (503, never 401)
      +-- StoreValueRejected   the database refused a value of the request (400)
      +-- OrganisationNotFound
      +-- OrganisationExists
      +-- OrganisationInvalid  (400: bad slug or field)
      +-- TokenNotFound
      +-- ResourceNotFound     (404)
      +-- UniquenessConflict   (409 uniqueness)
"""

from __future__ import annotations


class ScimServiceError(Exception):
    """Base of every error this package raises on purpose."""


class ScimError(ScimServiceError):
    """A request the service refuses, with its HTTP status and SCIM scimType."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


class StoreError(ScimServiceError):
    """The store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The database is unreachable or failing; callers answer 503."""


class StoreValueRejected(StoreError):
    """The database refused a value the request carried (a client error: 400).

    Never StoreUnavailable: Entra retries a 503 for ever, a 400 it reports.
    """


class OrganisationNotFound(StoreError):
    """No organisation has that slug."""


class OrganisationExists(StoreError):
    """An organisation with that slug exists already."""


class TokenNotFound(StoreError):
    """No token of that organisation has that id."""


class ResourceNotFound(StoreError):
    """No live resource of that organisation has that id."""


class UniquenessConflict(StoreError):
    """A live resource of the organisation already holds that userName or externalId."""


class OrganisationInvalid(StoreError):
    """An organisation slug or field value the store refuses (answer 400)."""
