"""Operations endpoints: /healthz, /readyz, Prometheus /metrics."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.conftest import free_port
from tests.scim_api._server import Service, start_service


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


def test_readiness_hides_the_database_error(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/secret_db_name"
    caplog.set_level(logging.WARNING, logger="scim_service")

    for service in start_service(url, migrate=False):
        ready = httpx.get(f"{service.url}/readyz")

    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "detail": "The database is unavailable; the service log has the cause.",
    }
    for secret in (str(port), "127.0.0.1", "secret_db_name", "psycopg"):
        assert secret not in ready.text
    logged = [r for r in caplog.records if str(port) in r.getMessage()]
    assert len(logged) == 1
