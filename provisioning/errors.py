"""Errors of the provisioning engine: one tree, every message actionable.

    ProvisioningError
     +-- OrganisationFileInvalid     organisation YAML failed validation (all problems)
     +-- SecretUnavailable           a SecretRef points at a missing env var or file
     +-- PromptAdminError            the SCIM service's admin API refused or failed
     |    +-- PromptAdminUnauthorized    wrong or missing PROMPT_SCIM_ADMIN_KEY
     |    +-- PromptAdminUnreachable     connection failed / timed out
     +-- ApplyFailed                 an apply of one organisation stopped part-way

Messages never contain a token, a secret or an Authorization header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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


class PromptAdminUnreachable(PromptAdminError):
    """The admin API could not be reached."""


class ApplyFailed(ProvisioningError):
    """Applying one organisation stopped part-way; the next apply resumes."""
