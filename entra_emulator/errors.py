"""Errors of the Entra emulator.

EmulatorError
 +-- SeedFileInvalid          a tenant seed YAML file cannot be loaded
 +-- ExpressionError          a mapping expression cannot be parsed or evaluated
 +-- GraphError               answered to the caller as a Graph ODataError body
 +-- AdminRequestInvalid      a bad request to the /_emulator admin API (400)
 +-- NotFound                 an admin or Python API call names an unknown object
 +-- ScimRequestFailed        the SCIM endpoint failed a provisioning request
      +-- ScimCredentialsRejected  it answered 401 (the job is quarantined)
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base of every error this package raises on purpose."""


class SeedFileInvalid(EmulatorError):
    """The seed file is not the YAML shape described in `entra_emulator.seed`."""


class ExpressionError(EmulatorError):
    """A synchronization mapping expression is malformed or cannot be evaluated."""


class GraphError(EmulatorError):
    """A Graph request the emulator refuses, with the status and code Graph uses."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class AdminRequestInvalid(EmulatorError):
    """A request to the admin API is malformed; answered with 400."""


class NotFound(EmulatorError):
    """An admin or Python API call names a user, group or job that does not exist."""


class ScimRequestFailed(EmulatorError):
    """The SCIM endpoint answered a provisioning request with an error or not at all.

    `error_code` is the provisioning-log errorCode Entra would record.
    """

    def __init__(self, status: int | None, error_code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.error_code = error_code
        self.reason = reason


class ScimCredentialsRejected(ScimRequestFailed):
    """The SCIM endpoint answered 401: Entra quarantines the job at once."""
