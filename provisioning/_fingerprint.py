"""Detect a change of Entra's synchronization secrets without reading them back.

Graph masks secrets on GET (graph.md section 5); the engine keeps a fingerprint.
"""

# Where and what: one service principal tag the engine owns,
#     prompt-secrets:v1:<token part>:<settings part>
# Token part: the Prompt token id ("tok_3f9a2c1b") when the bundled SCIM service
# issued or verified the code - a public id that reveals nothing of the secret.
# Otherwise "s<salt>.<scrypt(secret, salt)>": a random salt per save and a
# memory-hard hash, so whoever can read tags (Application.Read.All) can neither
# recover a high-entropy code nor afford a dictionary attack on a weak one.
# Settings part: SHA-256 of BaseAddress, SyncAll and the notification e-mail (none
# secret), so a new Tenant URL or scope shows even if Graph masks them too.
# A tag rather than `notes`: it survives portal edits of the notes field, and the
# SP is deleted with the app, so no state outlives the application.

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from kiota_abstractions.api_error import APIError

from provisioning.graph import get_json, graph_error, patch_json

__all__ = [
    "TAG_PREFIX",
    "Fingerprint",
    "read_fingerprint",
    "settings_digest",
    "token_digest",
    "token_matches",
    "write_fingerprint",
]

TAG_PREFIX = "prompt-secrets:v1:"

# scrypt cost: about 16 MiB and tens of milliseconds per hash (RFC 7914 section 2).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 16, "maxmem": 64 * 2**20}


@dataclass(frozen=True)
class Fingerprint:
    """What the engine last saved as synchronization secrets."""

    token: str
    settings: str

    def tag(self) -> str:
        """Return the tag text written on the service principal."""
        return f"{TAG_PREFIX}{self.token}:{self.settings}"

    @classmethod
    def parse(cls, tags: list[str]) -> Fingerprint | None:
        """Find and parse the engine's tag among a service principal's tags."""
        for tag in tags:
            if tag.startswith(TAG_PREFIX):
                token, _, settings = tag.removeprefix(TAG_PREFIX).rpartition(":")
                if token and settings:
                    return cls(token=token, settings=settings)
        return None


def token_digest(secret: str) -> str:
    """Return a salted scrypt fingerprint of a code the engine cannot name by id."""
    salt = secrets.token_bytes(8)
    return "s" + _b64(salt) + "." + _b64(_scrypt(secret, salt))


def token_matches(fingerprint: str, secret: str) -> bool:
    """Tell whether `fingerprint` (from token_digest) was made from `secret`."""
    if not fingerprint.startswith("s") or "." not in fingerprint:
        return False
    salt_text, _, digest_text = fingerprint[1:].partition(".")
    try:
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(secret, salt), digest)


def settings_digest(*, base_address: str, sync_all: bool, email: str | None) -> str:
    """Return a short digest of the non-secret synchronization settings."""
    text = json.dumps([base_address, sync_all, email or ""], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def read_fingerprint(
    client: Any, service_principal_id: str
) -> Fingerprint | None:
    """Read the engine's tag from the service principal (None when absent)."""
    builder = client.service_principals.by_service_principal_id(service_principal_id)
    try:
        body = await get_json(builder, query={"select": "id,tags"})
    except (APIError, httpx.TransportError) as error:
        raise _error(error, "read the tags of", service_principal_id) from None
    return Fingerprint.parse([str(tag) for tag in body.get("tags") or []])


async def write_fingerprint(
    client: Any, service_principal_id: str, fingerprint: Fingerprint
) -> None:
    """Replace the engine's tag, keeping every other tag (marker, Entra's own)."""
    builder = client.service_principals.by_service_principal_id(service_principal_id)
    try:
        body = await get_json(builder, query={"select": "id,tags"})
        # PATCH replaces the whole list: send back the others (graph.md section 3).
        tags = [
            str(t) for t in body.get("tags") or [] if not str(t).startswith(TAG_PREFIX)
        ]
        await patch_json(builder, {"tags": [*tags, fingerprint.tag()]})
    except (APIError, httpx.TransportError) as error:
        raise _error(error, "update the tags of", service_principal_id) from None


def _error(error: Exception, what: str, service_principal_id: str) -> Exception:
    return graph_error(
        error,
        action=f"{what} service principal {service_principal_id}",
        permission="Application.ReadWrite.All (or Application.ReadWrite.OwnedBy)",
    )


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
