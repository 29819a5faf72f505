"""Prometheus metrics of the service: request counts and latency per route.

With several worker processes set PROMETHEUS_MULTIPROC_DIR (an empty directory
shared by the workers); `/metrics` then aggregates every worker's files.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter(
    "prompt_scim_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "prompt_scim_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SCIM_ERRORS = Counter(
    "prompt_scim_errors_total",
    "SCIM error responses, by status and scimType.",
    ["status", "scim_type"],
)


def observe(
    method: str,
    route: str,
    status: int,
    seconds: float,
    scim_type: str | None,
) -> None:
    """Record one answered request."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
    if status >= 400:
        SCIM_ERRORS.labels(str(status), scim_type or "").inc()


def render_latest() -> tuple[bytes, str]:
    """Return the exposition text and its content type, across workers if any."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
