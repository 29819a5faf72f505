"""Paths, methods, media types and error bodies of the SCIM endpoint."""

from __future__ import annotations

import logging

import httpx
import pytest
import sqlalchemy as sa

from tests.scim_api._server import SCIM_JSON, Service
from tests.scim_api.test_entra import entra_user

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.mark.parametrize(
    "path",
    ["/Users", "/Users/", "//Users", "/Users?aadOptscim062020", "/users", "/Users//"],
)
def test_tolerated_path_shapes(acme: httpx.Client, path: str) -> None:
    # An absolute URL: httpx would read a relative "//Users" as a host name.
    response = acme.get(str(acme.base_url).rstrip("/") + path)

    assert response.status_code == 200, response.text
    assert response.json()["totalResults"] == 0


@pytest.mark.parametrize(
    "path",
    ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/ResourceTypes/User"],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_discovery_endpoints_refuse_writes_with_405(
    acme: httpx.Client, path: str, method: str
) -> None:
    response = acme.request(method, path, json={})

    assert response.status_code == 405
    assert response.headers["content-type"] == SCIM_JSON
    assert response.json()["schemas"] == [ERROR_URN]
    assert response.json()["status"] == "405"


def test_discovery_advertises_user_and_group(acme: httpx.Client) -> None:
    types = acme.get("/ResourceTypes").json()
    schema = acme.get(
        "/Schemas/urn:prompt:params:scim:schemas:extension:prompt:2.0:User"
    )
    missing = acme.get("/Schemas/urn:nothing")

    assert sorted(r["name"] for r in types["Resources"]) == ["Group", "User"]
    assert {a["name"] for a in schema.json()["attributes"]} == {"department", "section"}
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/Bulk", 501),
        ("GET", "/Me", 501),
        ("GET", "/Unknown", 404),
        ("GET", "/Users/nope", 404),
        ("GET", "/Users/a/b", 404),
        ("DELETE", "/Users", 405),
        ("GET", "/Users/.search", 405),
    ],
)
def test_unsupported_and_unknown_paths(
    acme: httpx.Client, method: str, path: str, status: int
) -> None:
    response = acme.request(method, path)

    assert response.status_code == status
    assert response.headers["content-type"] == SCIM_JSON
    assert response.json()["status"] == str(status)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json",
    ],
)
def test_json_media_types_are_accepted(acme: httpx.Client, content_type: str) -> None:
    response = acme.post(
        "/Users",
        content=b'{"userName": "mt@example.com"}',
        headers={"Content-Type": content_type},
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "scim_type"),
    [
        (b"{not json", 400, "invalidSyntax"),
        (b"[1, 2]", 400, "invalidSyntax"),
        (b'{"userName": 5}', 400, "invalidValue"),
        (b'{"displayName": "no user name"}', 400, "invalidValue"),
    ],
)
def test_bad_bodies_are_400_with_scim_type(
    acme: httpx.Client, body: bytes, status: int, scim_type: str
) -> None:
    response = acme.post(
        "/Users", content=body, headers={"Content-Type": "application/scim+json"}
    )

    assert response.status_code == status
    assert response.json()["scimType"] in (scim_type, "invalidSyntax", "invalidValue")
    assert response.json()["status"] == str(status)


def test_invalid_filter_is_400_invalid_filter(acme: httpx.Client) -> None:
    for text in ('userName eq "unterminated', "nosuchattribute eq 1", "userName zz 1"):
        response = acme.get("/Users", params={"filter": text})
        assert response.status_code == 400
        assert response.json()["scimType"] == "invalidFilter"


def test_unexpected_error_is_500_with_request_id_and_one_log(
    acme: httpx.Client, service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    user = acme.post("/Users", json=entra_user("broken@example.com")).json()
    # A row the service cannot have written: a document that is not an object.
    with service.store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE resources SET doc = :doc WHERE id = :id"),
            {"doc": '"corrupt"', "id": user["id"]},
        )

    with caplog.at_level(logging.ERROR):
        response = acme.get(
            f"/Users/{user['id']}", headers={"X-Request-Id": "req-500-test"}
        )

    assert response.status_code == 500
    assert response.headers["content-type"] == SCIM_JSON
    body = response.json()
    assert body["status"] == "500"
    assert "req-500-test" in body["detail"]
    assert "Traceback" not in response.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None


def test_oversized_body_is_413(acme: httpx.Client) -> None:
    body = b'{"userName": "big@example.com", "displayName": "' + b"x" * 1_100_000
    response = acme.post(
        "/Users", content=body + b'"}', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == SCIM_JSON
    assert response.json()["status"] == "413"


def test_public_base_url_shapes_locations(sqlite_url: str) -> None:
    from tests.scim_api._server import start_service

    for service in start_service(
        sqlite_url, migrate=False, base_url="https://prompt.example.com"
    ):
        service.organisation("acme")
        with service.client(service.token("acme"), org_path="acme") as client:
            created = client.post("/Users", json=entra_user("loc@example.com"))
            spc = client.get("/ServiceProviderConfig").json()

    location = created.headers["location"]
    assert location.startswith("https://prompt.example.com/scim/v2/acme/Users/")
    assert created.json()["meta"]["location"] == location
    assert spc["meta"]["location"] == (
        "https://prompt.example.com/scim/v2/acme/ServiceProviderConfig"
    )
