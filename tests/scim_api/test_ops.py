"""Operations endpoints: /healthz, /readyz, Prometheus /metrics."""

from __future__ import annotations

import httpx

from tests.scim_api._server import Service


def test_health_and_readiness(service: Service) -> None:
    health = httpx.get(f"{service.url}/healthz")
    ready = httpx.get(f"{service.url}/readyz")

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_metrics_count_requests_by_route_template(service: Service) -> None:
    service.organisation("acme")
    with service.client(service.token("acme")) as scim:
        scim.get("/Users/does-not-exist")
        scim.get("/Users/another-missing-id")

    text = httpx.get(f"{service.url}/metrics").text

    assert text.startswith("# HELP")
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("prompt_scim_requests_total{")
        and 'route="/scim/v2/Users/{id}"' in line
        and 'status="404"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) >= 2
    assert "does-not-exist" not in text
    assert "prompt_scim_request_duration_seconds_bucket" in text
