"""Concurrent identical creates: exactly one 201, the rest 409, one stored user."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.scim_api._server import Service, start_service
from tests.scim_api.test_entra import entra_user

CLIENTS = 20


@pytest.fixture
def threaded_service(database_url: str) -> Iterator[Service]:
    # As many request threads as clients, also on SQLite (more than its default):
    # the store itself must keep the creates unique.
    yield from start_service(database_url, scim_threads=CLIENTS)


def test_identical_posts_at_once_create_one_user(threaded_service: Service) -> None:
    service = threaded_service
    org = service.organisation("acme")
    token = service.token("acme")
    body = entra_user("race@contoso.com", "race-object-id")
    start = threading.Barrier(CLIENTS)

    def post(_: int) -> httpx.Response:
        with service.client(token) as client:
            client.get("/ServiceProviderConfig")  # connect before the race
            start.wait()
            return client.post("/Users", json=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(pool.map(post, range(CLIENTS)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CLIENTS - 1), [r.text for r in responses]
    assert all(
        r.json()["scimType"] == "uniqueness" for r in responses if r.status_code == 409
    )
    assert len(service.store.list_resources(org.id, "User")) == 1
