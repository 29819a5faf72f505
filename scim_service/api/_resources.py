"""Users and Groups endpoints (RFC 7644 sections 3.3-3.6) over the Store.

Prompt semantics live here: new users get the organisation's default
department and section, DELETE archives, group members must be live users of
the same organisation.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scim_service.api._request import ScimRequest, parse_json_body
from scim_service.api._responses import (
    ScimResponse,
    error_response,
    json_response,
    list_response,
)
from scim_service.errors import ResourceNotFound, ScimError
from scim_service.protocol.filter import (
    Filter,
    index_terms,
    parse_filter,
    validate_filter,
)
from scim_service.protocol.patch import apply_patch
from scim_service.protocol.resource import parse_resource, project, render
from scim_service.protocol.schema import GROUP, PROMPT_USER, USER, ResourceType
from scim_service.storage import Actor, Organisation, Store, StoredResource

logger = logging.getLogger(__name__)

_TYPES = {"Users": USER, "Groups": GROUP}
_INDEX_KWARGS = {
    "id": "id",
    "userName": "user_name",
    "externalId": "external_id",
    "displayName": "display_name",
}
SEARCH_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
_INTEGER = re.compile(r"-?[0-9]+")
MAX_START_INDEX = 2**31 - 1
_MAX_DIGITS = 18
_HUGE: int = 10**_MAX_DIGITS


@dataclass(frozen=True)
class ListParams:
    """Query parameters of a list or .search (RFC 7644 section 3.4.2)."""

    filter: str | None
    start_index: int
    count: int
    attributes: list[str] | None
    excluded: list[str] | None


class ResourceEndpoints:
    """Answer /Users and /Groups requests of one authenticated organisation."""

    def __init__(self, store: Store, max_results: int) -> None:
        self.store = store
        self.max_results = max_results

    def answer(
        self,
        request: ScimRequest,
        org: Organisation,
        actor: Actor,
    ) -> ScimResponse:
        """Dispatch on method and path below /Users or /Groups."""
        rt = _TYPES[request.endpoint]
        method = request.method
        if not request.rest:
            if method in ("GET", "HEAD"):
                params = self._params_from_query(request.query)
                return self._list(request, org, [rt], params)
            if method == "POST":
                return self._create(request, org, rt, actor)
            return _not_allowed(request, "GET, POST")

        if request.rest == [".search"]:
            if method != "POST":
                return _not_allowed(request, "POST")
            params = self._params_from_body(request)
            return self._list(request, org, [rt], params)

        if len(request.rest) != 1:
            return error_response(404, f"No SCIM endpoint at {request.route}.")
        rid = request.rest[0]
        if method in ("GET", "HEAD"):
            return self._get(request, org, rt, rid)
        if method == "PUT":
            return self._replace(request, org, rt, rid, actor)
        if method == "PATCH":
            return self._patch(request, org, rt, rid, actor)
        if method == "DELETE":
            self.store.archive_resource(org.id, rt.name, rid, actor=actor)
            return ScimResponse(204)
        return _not_allowed(request, "GET, PUT, PATCH, DELETE")

    def root_search(self, request: ScimRequest, org: Organisation) -> ScimResponse:
        """POST /.search across Users and Groups (RFC 7644 section 3.4.3)."""
        if request.rest or request.method != "POST":
            return _not_allowed(request, "POST")

        params = self._params_from_body(request)
        return self._list(request, org, [USER, GROUP], params)

    # -- reading --------------------------------------------------------------

    def _get(
        self,
        request: ScimRequest,
        org: Organisation,
        rt: ResourceType,
        rid: str,
    ) -> ScimResponse:
        stored = self.store.get_resource(org.id, rt.name, rid)
        if stored is None:
            raise ResourceNotFound(rid)

        rep = self._render(request, rt, stored)
        return _resource_response(200, _projected(rep, rt, request.query))

    def _list(
        self,
        request: ScimRequest,
        org: Organisation,
        types: list[ResourceType],
        params: ListParams,
    ) -> ScimResponse:
        if params.filter is None and len(types) == 1:
            return self._list_unfiltered(request, org, types[0], params)

        filters = self._filters(params.filter, types)
        matched: list[tuple[ResourceType, dict[str, Any] | StoredResource]] = []
        for rt in types:
            if params.filter is not None and rt not in filters:
                continue
            matched.extend(self._matching(request, org, rt, filters.get(rt)))

        # RFC 7644 3.4.2.4: 1-based startIndex; count=0 asks for totalResults only.
        first = params.start_index - 1
        page = matched[first : first + params.count]
        resources = [
            project(
                item if isinstance(item, dict) else self._render(request, rt, item),
                rt,
                attributes=params.attributes,
                excluded=params.excluded,
            )
            for rt, item in page
        ]
        return list_response(
            resources, total=len(matched), start_index=params.start_index
        )

    def _list_unfiltered(
        self,
        request: ScimRequest,
        org: Organisation,
        rt: ResourceType,
        params: ListParams,
    ) -> ScimResponse:
        # Page in the database: a large organisation is never loaded whole.
        total = self.store.count_resources(org.id, rt.name)
        page: list[StoredResource] = []
        if params.count and params.start_index <= total:
            page = self.store.list_resources(
                org.id, rt.name, offset=params.start_index - 1, limit=params.count
            )
        resources = [
            project(
                self._render(request, rt, stored),
                rt,
                attributes=params.attributes,
                excluded=params.excluded,
            )
            for stored in page
        ]
        return list_response(resources, total=total, start_index=params.start_index)

    def _filters(
        self,
        text: str | None,
        types: list[ResourceType],
    ) -> dict[ResourceType, Filter]:
        if text is None:
            return {}

        parsed = parse_filter(text)
        valid: dict[ResourceType, Filter] = {}
        error: ScimError | None = None
        for rt in types:
            try:
                validate_filter(parsed, rt)
            except ScimError as exc:
                error = exc
                continue
            valid[rt] = parsed
        if not valid and error is not None:
            raise error
        return valid

    def _matching(
        self,
        request: ScimRequest,
        org: Organisation,
        rt: ResourceType,
        flt: Filter | None,
    ) -> list[tuple[ResourceType, dict[str, Any] | StoredResource]]:
        if flt is None:
            # No filter: render only the page later, not every stored resource.
            return [
                (rt, stored) for stored in self.store.list_resources(org.id, rt.name)
            ]

        terms = index_terms(flt, rt)
        if terms:
            kwargs = {_INDEX_KWARGS[key]: value for key, value in terms.items()}
            candidates = self.store.find_resources(org.id, rt.name, **kwargs)
            candidates.sort(key=lambda s: (s.created, s.id))
        else:
            candidates = self.store.list_resources(org.id, rt.name)

        matched: list[tuple[ResourceType, dict[str, Any] | StoredResource]] = []
        for stored in candidates:
            rep = self._render(request, rt, stored)
            if flt.matches(rep, rt):
                matched.append((rt, rep))
        return matched

    # -- writing --------------------------------------------------------------

    def _create(
        self,
        request: ScimRequest,
        org: Organisation,
        rt: ResourceType,
        actor: Actor,
    ) -> ScimResponse:
        doc = parse_resource(parse_json_body(request), rt)
        if rt is GROUP:
            self._check_members(org, doc, {})
        # A new user lands in the organisation's default department and section;
        # a re-attached one keeps its own (the store decides which case it is).
        defaults = None
        if rt is USER:
            defaults = {
                key: value
                for key, value in (
                    ("department", org.default_department),
                    ("section", org.default_section),
                )
                if value is not None
            }
        stored, _reattached = self.store.create_resource(
            org.id, rt.name, doc, actor=actor, prompt_defaults=defaults
        )

        rep = self._render(request, rt, stored)
        location = rep["meta"]["location"]
        return _resource_response(
            201,
            _projected(rep, rt, request.query),
            [(b"location", location.encode())],
        )

    def _replace(
        self,
        request: ScimRequest,
        org: Organisation,
        rt: ResourceType,
        rid: str,
        actor: Actor,
    ) -> ScimResponse:
        new_doc = parse_resource(parse_json_body(request), rt)

        def replace(old: dict[str, Any]) -> dict[str, Any]:
            doc = copy.deepcopy(new_doc)
            # Prompt's department and section are Prompt's own data: a PUT that
            # does not carry the extension keeps them (no data loss).
            if rt is USER and PROMPT_USER not in doc and PROMPT_USER in old:
                doc[PROMPT_USER] = copy.deepcopy(old[PROMPT_USER])
            if rt is GROUP:
                self._check_members(org, doc, old)
            return doc

        return self._update(request, org, rt, rid, replace, actor, "resource.replace")

    def _patch(
        self,
        request: ScimRequest,
        org: Organisation,
        rt: ResourceType,
        rid: str,
        actor: Actor,
    ) -> ScimResponse:
        body = parse_json_body(request)

        def patch(old: dict[str, Any]) -> dict[str, Any]:
            doc = apply_patch(old, body, rt)
            if rt is GROUP:
                self._check_members(org, doc, old)
            return doc

        return self._update(request, org, rt, rid, patch, actor, "resource.patch")

    def _update(
        self,
        request: ScimRequest,
        org: Organisation,
        rt: ResourceType,
        rid: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        actor: Actor,
        action: str,
    ) -> ScimResponse:
        stored = self.store.update_resource(
            org.id, rt.name, rid, mutate, actor=actor, action=action
        )
        rep = self._render(request, rt, stored)
        return _resource_response(200, _projected(rep, rt, request.query))

    def _check_members(
        self,
        org: Organisation,
        doc: dict[str, Any],
        old: dict[str, Any],
    ) -> None:
        """Refuse members that are not live users of this organisation."""
        known = {m.get("value") for m in old.get("members", []) if isinstance(m, dict)}
        for member in doc.get("members", []):
            value = member.get("value") if isinstance(member, dict) else None
            if value in known:
                continue
            if not isinstance(value, str) or (
                self.store.get_resource(org.id, "User", value) is None
            ):
                raise ScimError(
                    400,
                    f"Group member {value!r} is not a user of this organisation; "
                    "add users by their SCIM id after creating them.",
                    "invalidValue",
                )

    # -- helpers --------------------------------------------------------------

    def _render(
        self,
        request: ScimRequest,
        rt: ResourceType,
        stored: StoredResource,
    ) -> dict[str, Any]:
        return render(
            stored.doc,
            rt,
            id=stored.id,
            created=stored.created,
            last_modified=stored.last_modified,
            version=stored.version,
            location=f"{request.base_url}{rt.endpoint}/{stored.id}",
        )

    def _params_from_query(self, query: dict[str, str]) -> ListParams:
        return self._params(
            filter_text=query.get("filter"),
            start_index=query.get("startindex"),
            count=query.get("count"),
            attributes=_split(query.get("attributes")),
            excluded=_split(query.get("excludedattributes")),
        )

    def _params_from_body(self, request: ScimRequest) -> ListParams:
        body = parse_json_body(request) if request.body.strip() else {}
        if not isinstance(body, dict):
            raise ScimError(
                400, "A SearchRequest body must be a JSON object.", "invalidSyntax"
            )
        fields = {key.lower(): value for key, value in body.items()}
        return self._params(
            filter_text=fields.get("filter"),
            start_index=fields.get("startindex"),
            count=fields.get("count"),
            attributes=_names(fields.get("attributes")),
            excluded=_names(fields.get("excludedattributes")),
        )

    def _params(
        self,
        *,
        filter_text: object,
        start_index: object,
        count: object,
        attributes: list[str] | None,
        excluded: list[str] | None,
    ) -> ListParams:
        if filter_text is not None and not isinstance(filter_text, str):
            raise ScimError(400, "filter must be a string.", "invalidFilter")
        # RFC 7644 3.4.2.4: startIndex < 1 means 1, count < 0 means 0; the
        # service caps count at the advertised filter.maxResults, and startIndex
        # where it is past any organisation's resources.
        start = min(max(1, _integer("startIndex", start_index, 1)), MAX_START_INDEX)
        size = min(max(0, _integer("count", count, self.max_results)), self.max_results)
        return ListParams(
            filter=filter_text or None,
            start_index=start,
            count=size,
            attributes=attributes,
            excluded=excluded,
        )


def _integer(name: str, value: object, default: int) -> int:
    """Read startIndex or count: ASCII digits in a query, a JSON integer in a body.

    Python's int() would also take "1_0", " 1", "+1" and other scripts' digits,
    and a body's 1e300 as a 301-digit number; RFC 7644 3.4.2.4 means integers.
    """
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        if len(value) > _MAX_DIGITS:
            # Past any page; not converted (4,000 digits would cost real time).
            return -_HUGE if value.startswith("-") else _HUGE
        return int(value)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise ScimError(
        400,
        f"{name} must be an integer written with the digits 0-9, got {shown}.",
        "invalidValue",
    )


def _split(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    return names or None


def _names(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _split(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v] or None
    raise ScimError(
        400, "attributes must be a list of attribute names.", "invalidValue"
    )


def _projected(
    rep: dict[str, Any], rt: ResourceType, query: dict[str, str]
) -> dict[str, Any]:
    """Apply the query's attributes/excludedAttributes to one resource.

    RFC 7644 3.9: they apply to every operation that returns a resource (GET,
    POST, PUT, PATCH); paging parameters are not read here.
    """
    return project(
        rep,
        rt,
        attributes=_split(query.get("attributes")),
        excluded=_split(query.get("excludedattributes")),
    )


def _resource_response(
    status: int,
    rep: dict[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> ScimResponse:
    return json_response(status, rep, headers)


def _not_allowed(request: ScimRequest, allowed: str) -> ScimResponse:
    return error_response(
        405,
        f"{request.method} is not allowed on {request.route}; allowed: {allowed}.",
        headers=[(b"allow", allowed.encode())],
    )
