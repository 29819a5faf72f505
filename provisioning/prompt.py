"""Client of the Prompt SCIM service's admin API (/admin): organisations and codes.

The admin key comes from the environment (PROMPT_SCIM_ADMIN_KEY) only; it is sent
as a bearer header, never logged, and only to loopback or PROMPT_SCIM_ADMIN_ORIGINS
origins. Issued secrets are returned once, never logged.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from provisioning._hosts import is_loopback
from provisioning.errors import (
    PromptAdminError,
    PromptAdminOriginRefused,
    PromptAdminUnauthorized,
    PromptAdminUnreachable,
)

__all__ = [
    "ADMIN_KEY_ENV",
    "ADMIN_ORIGINS_ENV",
    "PromptAdmin",
    "PromptOrganisation",
    "PromptToken",
]

log = logging.getLogger(__name__)

ADMIN_KEY_ENV = "PROMPT_SCIM_ADMIN_KEY"
ADMIN_ORIGINS_ENV = "PROMPT_SCIM_ADMIN_ORIGINS"
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Settable fields of an organisation, as the admin API names them.
ORGANISATION_FIELDS = (
    "display_name",
    "tenant_id",
    "sso_enabled",
    "provisioning_enabled",
    "default_department",
    "default_section",
)


@dataclass(frozen=True)
class PromptOrganisation:
    """An organisation as the admin API shows it."""

    slug: str
    display_name: str
    tenant_id: str | None
    sso_enabled: bool
    provisioning_enabled: bool
    default_department: str | None
    default_section: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> PromptOrganisation:
        """Build from an admin API answer."""
        return cls(
            slug=body["slug"], **{name: body[name] for name in ORGANISATION_FIELDS}
        )


@dataclass(frozen=True)
class PromptToken:
    """A Provisioning Authentication Code without its secret."""

    id: str
    label: str | None
    revoked: bool

    @classmethod
    def of(cls, body: dict[str, Any]) -> PromptToken:
        """Build from an admin API answer."""
        return cls(
            id=body["id"], label=body.get("label"), revoked=bool(body.get("revoked"))
        )


class PromptAdmin:
    """Async client of one SCIM service's admin API."""

    def __init__(
        self,
        admin_url: str,
        admin_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.admin_url,
            headers={"Authorization": f"Bearer {admin_key}"},
            transport=transport,
            timeout=timeout,
            verify=_tls_context(),
            event_hooks={"response": [_log_response]},
        )

    @classmethod
    def from_env(
        cls, admin_url: str, *, source: Path | str | None = None, **kwargs: Any
    ) -> PromptAdmin:
        """Build with the admin key from PROMPT_SCIM_ADMIN_KEY.

        Raises PromptAdminOriginRefused, before any request, when `admin_url` is
        neither on loopback nor in PROMPT_SCIM_ADMIN_ORIGINS; `source` (the
        organisation file) starts that message.
        """
        check_admin_origin(admin_url, source=source)
        key = os.environ.get(ADMIN_KEY_ENV, "").strip()
        if not key:
            raise PromptAdminUnauthorized(
                f"prompt.admin_url is set ({admin_url}) but {ADMIN_KEY_ENV} is not: "
                "export the SCIM service's admin key to manage the Prompt side."
            )
        return cls(admin_url, key, **kwargs)

    def __repr__(self) -> str:
        return f"PromptAdmin({self.admin_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def get_organisation(self, slug: str) -> PromptOrganisation | None:
        """Return the organisation, or None when it does not exist yet."""
        body = await self._call("GET", f"/organisations/{slug}", missing_ok=True)
        return None if body is None else PromptOrganisation.of(body)

    async def create_organisation(self, slug: str, **fields: Any) -> PromptOrganisation:
        """Create the organisation with the given settings."""
        body = await self._call("POST", "/organisations", json={"slug": slug, **fields})
        log.info("created Prompt organisation %s", slug)
        return PromptOrganisation.of(body)

    async def update_organisation(
        self, slug: str, **changes: Any
    ) -> PromptOrganisation:
        """Change some settings of the organisation."""
        body = await self._call("PATCH", f"/organisations/{slug}", json=changes)
        log.info("updated Prompt organisation %s: %s", slug, ", ".join(sorted(changes)))
        return PromptOrganisation.of(body)

    async def list_tokens(self, slug: str) -> list[PromptToken]:
        """Return every code of the organisation (revoked ones too), never secrets."""
        body = await self._call("GET", f"/organisations/{slug}/tokens")
        return [PromptToken.of(item) for item in body]

    async def issue_token(self, slug: str, *, label: str) -> tuple[PromptToken, str]:
        """Issue a new code; return its public record and its secret (shown once)."""
        body = await self._call(
            "POST", f"/organisations/{slug}/tokens", json={"label": label}
        )
        token = PromptToken.of(body["token"])
        log.info("issued Provisioning Authentication Code %s for %s", token.id, slug)
        return token, str(body["secret"])

    async def verify_token(self, slug: str, secret: str) -> str | None:
        """Return the id of the live code `secret` is, or None if it is not one."""
        body = await self._call(
            "POST", f"/organisations/{slug}/tokens/verify", json={"token": secret}
        )
        return body["token_id"] if body.get("valid") else None

    async def revoke_token(self, slug: str, token_id: str) -> None:
        """Revoke a code; SCIM requests carrying it are refused from now on."""
        await self._call("DELETE", f"/organisations/{slug}/tokens/{token_id}")
        log.info("revoked Provisioning Authentication Code %s of %s", token_id, slug)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        what = f"{method} {self.admin_url}{path}"
        try:
            response = await self._http.request(method, path, json=json)
        except httpx.TransportError as exc:
            raise PromptAdminUnreachable(
                f"Cannot reach the Prompt admin API ({what}): {type(exc).__name__}; "
                "check prompt.admin_url and that the SCIM service is running."
            ) from None

        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 401:
            raise PromptAdminUnauthorized(
                f"The Prompt admin API refused the admin key ({what}): set "
                f"{ADMIN_KEY_ENV} to the key the SCIM service was started with."
            )
        if response.is_error:
            raise PromptAdminError(
                f"The Prompt admin API answered {response.status_code} to {what}: "
                f"{_detail(response)}"
            )
        return response.json() if response.content else None


def check_admin_origin(admin_url: str, *, source: Path | str | None = None) -> None:
    """Refuse an admin URL whose origin the environment does not allow.

    The admin key and the codes sent to /tokens/verify go wherever the file's
    prompt.admin_url says, and `plan` runs on pull requests: a changed file must
    not be able to send them to a host of its choosing.
    """
    where = f"{source}: " if source is not None else ""
    origin = _origin(admin_url)
    if origin is None:
        # Never repeated: it may carry a user name and password.
        raise PromptAdminOriginRefused(
            f"{where}prompt.admin_url must be an http(s) URL with a host and "
            "without user name or password; fix it"
        )

    if is_loopback(urlsplit(admin_url).hostname or "") or origin in allowed_origins():
        return
    raise PromptAdminOriginRefused(
        f"{where}prompt.admin_url {admin_url} is not an allowed admin origin; set "
        f"{ADMIN_ORIGINS_ENV}={origin} to allow sending the admin key there"
    )


def allowed_origins() -> frozenset[str]:
    """Return the origins of PROMPT_SCIM_ADMIN_ORIGINS (comma-separated)."""
    allowed = set()
    entries = os.environ.get(ADMIN_ORIGINS_ENV, "").split(",")
    for entry in filter(None, (item.strip() for item in entries)):
        parts = urlsplit(entry)
        origin = _origin(entry)
        if origin is None or parts.path not in ("", "/") or parts.query:
            raise PromptAdminOriginRefused(
                f"{ADMIN_ORIGINS_ENV} holds {entry!r}, which is not an origin: write "
                "scheme://host[:port] entries separated by commas, e.g. "
                "https://prompt.example.com,https://scim.example.net:8443"
            )
        allowed.add(origin)
    return frozenset(allowed)


def _origin(url: str) -> str | None:
    """Return scheme://host[:port] in lower case, default port left out, or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs a quarter of a second: once per process, not
    # once per client (apply of many organisations, tests).
    return httpx.create_ssl_context()


def _detail(response: httpx.Response) -> str:
    # FastAPI's 422 details echo the request body ("input"), which may hold a
    # secret: keep only where and what.
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(map(str, item.get('loc', [])))}: {item.get('msg')}"
            for item in detail
            if isinstance(item, dict)
        )
    return str(detail)[:500]


async def _log_response(response: httpx.Response) -> None:
    # Method, path and status only: bodies may carry a code's secret.
    request = response.request
    log.debug("%s %s -> %s", request.method, request.url.path, response.status_code)
