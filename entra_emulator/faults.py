"""Fault injection for Graph: throttling, transient errors, replication delay.

A rule applies to Graph requests (under /v1.0) whose method and path match; paths are
shell-style patterns (`fnmatch`, `*` also crosses `/`) matched against the path after
/v1.0, e.g. `/servicePrincipals/*/synchronization/jobs`.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import AdminRequestInvalid, GraphError

# Graph error codes for injected statuses (what real Graph answers carry).
_CODES = {
    403: (
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    ),
    404: ("Request_ResourceNotFound", "Resource does not exist (injected)."),
    409: ("Conflict", "Another operation is in progress on this object; retry later."),
    429: ("TooManyRequests", "Too many requests; retry after the time in Retry-After."),
    500: ("InternalServerError", "The service hit an internal error (injected)."),
    502: ("BadGateway", "Bad gateway (injected)."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable (injected)."),
    504: ("GatewayTimeout", "The gateway timed out (injected)."),
}
_ids = itertools.count(1)


@dataclass
class Fault:
    """One rule. kind "status" answers `status` for the next `count` matching requests,
    after letting the first `skip` through; with `after` the request is carried out
    first and only its answer is replaced (a write whose answer the caller lost).
    kind "replication" hides every object created by a matching request (404) for
    `seconds` and/or the next `requests` requests that address it (count unused)."""

    kind: str = "status"
    method: str = "*"
    path: str = "*"
    status: int = 429
    count: int = 1
    retry_after: int = 1
    code: str | None = None
    seconds: float = 0.0
    requests: int = 0
    skip: int = 0
    after: bool = False
    id: int = field(default_factory=lambda: next(_ids))

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method.upper() == method.upper()) and (
            fnmatch.fnmatchcase(path, self.path)
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def fault_from_json(data: dict[str, Any]) -> Fault:
    """Build a rule from admin-API JSON, refusing unknown keys and kinds."""
    allowed = set(Fault.__dataclass_fields__) - {"id"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise AdminRequestInvalid(
            f"Unknown fault keys {unknown}; allowed {sorted(allowed)}."
        )
    try:
        fault = Fault(**data)
    except TypeError as exc:
        raise AdminRequestInvalid(f"Invalid fault: {exc}.") from exc
    if fault.kind not in ("status", "replication"):
        raise AdminRequestInvalid("Fault kind must be 'status' or 'replication'.")
    if fault.kind == "status" and fault.status not in _CODES:
        raise AdminRequestInvalid(f"Injectable statuses: {sorted(_CODES)}.")
    if not isinstance(fault.skip, int) or fault.skip < 0:
        raise AdminRequestInvalid("skip must be a whole number >= 0.")
    if not isinstance(fault.after, bool):
        raise AdminRequestInvalid("after must be true or false.")
    if fault.kind == "replication" and fault.seconds <= 0 and fault.requests <= 0:
        raise AdminRequestInvalid(
            "A replication fault needs seconds > 0 or requests > 0."
        )
    return fault


@dataclass(frozen=True)
class Injected:
    """The error a status rule answers, and whether the request runs first."""

    error: GraphError
    after: bool


@dataclass
class _Hidden:
    until: float
    remaining: int


class FaultBook:
    """The active rules and the objects hidden by replication delay."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[Fault] = []
        self._hidden: dict[str, _Hidden] = {}

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self._hidden.clear()

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self.rules)
            self.rules = [r for r in self.rules if r.id != fault_id]
            return len(self.rules) != before

    def take_status_fault(self, method: str, path: str) -> Injected | None:
        """Consume one matching status rule and return what to answer, if any."""
        with self._lock:
            for rule in self.rules:
                if (
                    rule.kind == "status"
                    and rule.count > 0
                    and rule.matches(method, path)
                ):
                    if rule.skip > 0:
                        rule.skip -= 1
                        continue
                    rule.count -= 1
                    if rule.count == 0:
                        self.rules.remove(rule)
                    code, message = _CODES[rule.status]
                    headers = {"Retry-After": str(rule.retry_after)}
                    error = GraphError(
                        rule.status,
                        rule.code or code,
                        message,
                        headers=headers if rule.status in (429, 503) else {},
                    )
                    return Injected(error, rule.after)
        return None

    def object_created(self, object_id: str, method: str, path: str) -> None:
        """Hide a new object if a replication rule matches the creating call."""
        with self._lock:
            for rule in self.rules:
                if rule.kind == "replication" and rule.matches(method, path):
                    self._hidden[object_id] = _Hidden(
                        until=time.monotonic() + rule.seconds, remaining=rule.requests
                    )
                    return

    def is_hidden(self, object_id: str) -> bool:
        """Say whether a request addressing the object must still see 404."""
        with self._lock:
            hidden = self._hidden.get(object_id)
            if hidden is None:
                return False
            if hidden.remaining > 0:
                hidden.remaining -= 1
                return True
            if time.monotonic() < hidden.until:
                return True
            del self._hidden[object_id]
            return False
