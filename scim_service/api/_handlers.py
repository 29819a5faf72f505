"""Synchronous SCIM request handling: authentication, then one endpoint.

Runs in a worker thread (the Store is synchronous). Every outcome, including
failures, becomes a `ScimResponse`; nothing here raises to the ASGI layer.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from scim_service.api import _discovery
from scim_service.api._request import ScimRequest
from scim_service.api._resources import ResourceEndpoints
from scim_service.api._responses import ScimResponse, error_response, internal_error
from scim_service.errors import (
    ResourceNotFound,
    ScimError,
    StoreUnavailable,
    StoreValueRejected,
    UniquenessConflict,
)
from scim_service.settings import Settings
from scim_service.storage import Actor, Organisation, Store, TokenInfo

logger = logging.getLogger(__name__)

_WWW_AUTHENTICATE = [(b"www-authenticate", b'Bearer realm="prompt-scim"')]
# One answer for every credential failure, so a caller cannot tell an unknown
# token from a revoked one or from a token of another organisation.
_UNAUTHORIZED_DETAIL = (
    "The bearer token is missing, unknown or revoked. Use a current Provisioning "
    "Authentication Code of this organisation as the Secret Token."
)
_DISCOVERY = {"ServiceProviderConfig", "Schemas", "ResourceTypes"}


class ScimHandlers:
    """Answer SCIM requests against one Store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.resources = ResourceEndpoints(store, settings.max_results)

    def handle(self, request: ScimRequest) -> ScimResponse:
        """Answer one request; never raises."""
        try:
            return self._dispatch(request)
        except _UnauthorizedError as exc:
            return error_response(401, exc.detail, headers=_WWW_AUTHENTICATE)
        except ScimError as exc:
            return error_response(exc.status, exc.detail, exc.scim_type)
        except UniquenessConflict as exc:
            return error_response(409, str(exc), "uniqueness")
        except ResourceNotFound:
            return _not_found(request)
        except StoreValueRejected as exc:
            return error_response(400, str(exc), "invalidValue")
        except StoreUnavailable:
            logger.warning("store unavailable", extra={"fields": _ids(request)})
            return error_response(
                503,
                "The provisioning store is temporarily unavailable; retry later.",
                headers=[(b"retry-after", b"30")],
            )
        except Exception:
            # The one place an unexpected failure is logged (with its traceback);
            # the client only sees the request id.
            logger.exception("unhandled error", extra={"fields": _ids(request)})
            return internal_error(request.request_id)

    def _dispatch(self, request: ScimRequest) -> ScimResponse:
        endpoint = request.endpoint
        prefix = "/scim/v2/{org}" if request.organisation else "/scim/v2"
        request.route = prefix + _route_suffix(endpoint, request.rest)

        if endpoint in _DISCOVERY:
            return _discovery.answer(request, self.settings)
        if endpoint == "" or (endpoint not in ("Users", "Groups") and request.rest):
            return _not_found(request)

        organisation, token = self._authenticate(request)
        request.result_org = organisation.slug
        actor = Actor(kind="scim", token_id=token.id, request_id=request.request_id)
        if endpoint in ("Bulk", "Me"):
            return error_response(
                501, f"/{endpoint} is not supported by this service provider."
            )
        if endpoint == ".search":
            return self.resources.root_search(request, organisation)
        return self.resources.answer(request, organisation, actor)

    def _authenticate(self, request: ScimRequest) -> tuple[Organisation, TokenInfo]:
        scheme, _, secret = (request.authorization or "").partition(" ")
        found = None
        if scheme.lower() == "bearer" and secret.strip():
            # Last use is recorded below, once the request is accepted: a code
            # presented at another organisation's URL has not been used.
            found = self.store.authenticate(secret.strip(), record_use=False)
        if found is None or (
            request.organisation is not None
            and not hmac.compare_digest(
                found[0].slug.encode(), request.organisation.lower().encode()
            )
        ):
            raise _UnauthorizedError

        organisation, token = found
        if not organisation.provisioning_enabled:
            request.result_org = organisation.slug
            # 403, not 401: the credentials are right and Entra must not
            # quarantine the job as for bad credentials (RFC 7644 3.12).
            raise ScimError(
                403,
                f"Automated user provisioning is disabled for organisation "
                f"'{organisation.slug}' in Prompt. Enable it in Prompt "
                "(prompt-scim org update --provisioning-enabled) and retry.",
            )
        return organisation, self.store.record_use(token)


class _UnauthorizedError(ScimError):
    def __init__(self) -> None:
        super().__init__(401, _UNAUTHORIZED_DETAIL)


def _ids(request: ScimRequest) -> dict[str, Any]:
    return {"request_id": request.request_id, "route": request.route}


def _not_found(request: ScimRequest) -> ScimResponse:
    if request.endpoint in ("Users", "Groups") and len(request.rest) == 1:
        kind = request.endpoint[:-1]
        return error_response(
            404,
            f"{kind} {request.rest[0]!r} does not exist in this organisation (or "
            f"was deleted); look it up again with a filter on /{request.endpoint}.",
        )
    return error_response(404, f"No SCIM endpoint at {request.route}.")


def _route_suffix(endpoint: str, rest: list[str]) -> str:
    if not endpoint:
        return "/{unknown}"
    if not rest:
        return f"/{endpoint}"
    if endpoint in ("Users", "Groups") and rest == [".search"]:
        return f"/{endpoint}/.search"
    if endpoint == "Schemas":
        return "/Schemas/{urn}"
    if endpoint == "ResourceTypes":
        return "/ResourceTypes/{name}"
    return f"/{endpoint}/{{id}}"
