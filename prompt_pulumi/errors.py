"""Errors of the Pulumi program; Graph and spec failures keep provisioning's tree.

    PulumiProgramError
     +-- StackConfigInvalid     stack config names no usable organisation file
     +-- ScimTokenUnavailable   no SCIM token: set prompt:scimToken or issue one

Messages never contain a token, a secret or an Authorization header.
"""

from __future__ import annotations


class PulumiProgramError(Exception):
    """Base of every error the Pulumi program raises on purpose."""


class StackConfigInvalid(PulumiProgramError):
    """The stack's config does not lead to one valid organisation file."""


class ScimTokenUnavailable(PulumiProgramError):
    """The organisation's SCIM token can be neither read nor issued."""
