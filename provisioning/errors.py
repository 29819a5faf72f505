"""Errors of the provisioning engine: one tree, every message actionable.

    ProvisioningError
     +-- OrganisationFileInvalid     organisation YAML failed validation (all problems)
     +-- SecretUnavailable           a SecretRef points at a missing env var or file
     +-- PromptAdminError            the SCIM service's admin API refused or failed
     |    +-- PromptAdminUnauthorized    wrong or missing PROMPT_SCIM_ADMIN_KEY
     |    +-- PromptAdminOriginRefused   admin_url neither loopback nor allowed
     |    +-- PromptAdminUnreachable     connection failed / timed out
     +-- ApplyFailed                 an apply of one organisation stopped part-way
     +-- TokenNotUsable              the configured code is not live in Prompt
     +-- UnknownPrincipal            a user/group to assign is not in the tenant
     +-- NotApplied                  no app/job yet for status-like commands: apply
     +-- MappingInvalid              a user attribute expression or the matching
     |                               attribute cannot become schema JSON
     +-- SchemaUnexpected            the job schema lacks what we edit (User mapping)
     +-- GraphConfigInvalid          Graph base URL or credential settings unusable
     |    +-- GraphSignInFailed          azure-identity could not get a Graph token
     +-- GraphError                  a Microsoft Graph call failed (.status, .code)
          +-- GraphPermissionDenied      403: grant the named permission
          +-- GraphNotFound              404 (absent, or not replicated yet)
          +-- GraphConflict              409
          +-- GraphThrottled             429 after the SDK's own retries
          +-- GraphUnavailable           5xx or transport failure
          +-- ServicePrincipalNotVisible still invisible after the replication wait
          +-- AmbiguousApplication       several service principals carry one marker
          +-- CredentialsRejected        validateCredentials refused the credentials
               +-- TokenRejected         the SCIM endpoint refused the token
               +-- EndpointUnreachable   Entra could not reach BaseAddress

Messages never contain a token, a secret or an Authorization header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ProvisioningError(Exception):
    """Base of every error the provisioning engine raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is and what to do about it."""

    path: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class OrganisationFileInvalid(ProvisioningError):
    """One or more organisation files are invalid; `problems` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in organisation files"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


class SecretUnavailable(ProvisioningError):
    """A secret reference could not be resolved (env var unset, file missing)."""


class PromptAdminError(ProvisioningError):
    """The Prompt SCIM service's admin API answered with an error."""


class PromptAdminUnauthorized(PromptAdminError):
    """The admin API rejected the admin key."""


class PromptAdminOriginRefused(PromptAdminError):
    """The admin URL's origin is not allowed: the admin key is not sent there."""


class PromptAdminUnreachable(PromptAdminError):
    """The admin API could not be reached."""


class ApplyFailed(ProvisioningError):
    """Applying one organisation stopped part-way; the next apply resumes.

    `done` lists the changes (provisioning.plan.Change) made before the failure.
    """

    def __init__(self, message: str, *, done: list[Any] | None = None) -> None:
        super().__init__(message)
        self.done = list(done or [])


class MappingInvalid(ProvisioningError):
    """A configured attribute mapping cannot be turned into schema JSON."""


class SchemaUnexpected(ProvisioningError):
    """The synchronization schema Graph returned lacks a part the toolkit edits."""


class GraphConfigInvalid(ProvisioningError):
    """The Graph connection settings cannot work (base URL, credential variables)."""


class GraphSignInFailed(GraphConfigInvalid):
    """The credential could not get a Graph token (refused, not set up, unreachable)."""


class GraphError(ProvisioningError):
    """A Graph request failed; carries the HTTP status and Graph's error code."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id


class GraphPermissionDenied(GraphError):
    """Graph answered 403: grant the named permission to the automation identity."""


class GraphNotFound(GraphError):
    """Graph answered 404."""


class GraphConflict(GraphError):
    """Graph answered 409."""


class GraphThrottled(GraphError):
    """Graph kept answering 429 after the retry handler gave up."""


class GraphUnavailable(GraphError):
    """Graph answered 5xx or could not be reached."""


class ServicePrincipalNotVisible(GraphError):
    """A freshly created service principal did not become visible in time."""


class AmbiguousApplication(GraphError):
    """More than one service principal carries the toolkit's marker."""


class CredentialsRejected(GraphError):
    """validateCredentials failed for the given BaseAddress and SecretToken."""


class TokenRejected(CredentialsRejected):
    """The SCIM endpoint was reached but refused the token."""


class EndpointUnreachable(CredentialsRejected):
    """Entra could not reach the SCIM endpoint at BaseAddress."""


class TokenNotUsable(ProvisioningError):
    """The configured code is not a live code of the organisation in Prompt."""


class UnknownPrincipal(ProvisioningError):
    """A user or group to assign does not exist in the tenant."""


class NotApplied(ProvisioningError):
    """The organisation has no application or job yet: run apply first."""
