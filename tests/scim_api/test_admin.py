"""Admin API under /admin: organisations, tokens, audit, key protection, OpenAPI."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.scim_api._server import ADMIN_KEY, Service, start_service
from tests.scim_api.test_entra import entra_user

ACME = {
    "slug": "acme",
    "display_name": "Acme Health",
    "tenant_id": "11111111-2222-3333-4444-555555555555",
    "sso_enabled": True,
    "provisioning_enabled": True,
    "default_department": "Nursing",
    "default_section": "Ward 3",
}


def test_organisation_create_get_update_list(service: Service) -> None:
    admin = service.admin()

    created = admin.post("/admin/organisations", json=ACME)
    again = admin.post("/admin/organisations", json=ACME)
    updated = admin.patch(
        "/admin/organisations/acme",
        json={"default_section": None, "sso_enabled": False},
    )
    shown = admin.get("/admin/organisations/acme")
    listed = admin.get("/admin/organisations")
    missing = admin.get("/admin/organisations/nope")

    assert created.status_code == 201
    assert {k: created.json()[k] for k in ACME} == ACME
    assert again.status_code == 409
    assert updated.status_code == 200
    assert shown.json()["default_section"] is None
    assert shown.json()["sso_enabled"] is False
    assert shown.json()["default_department"] == "Nursing"
    assert [o["slug"] for o in listed.json()] == ["acme"]
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {**ACME, "slug": "Not A Slug"},
        {**ACME, "slug": "users"},
        {**ACME, "unknown": 1},
        {"slug": "x1"},
    ],
)
def test_invalid_organisations_are_refused(service: Service, body: dict) -> None:
    response = service.admin().post("/admin/organisations", json=body)

    assert response.status_code == 422
    assert service.store.list_organisations() == []


def test_tokens_issue_list_verify_revoke(service: Service) -> None:
    admin = service.admin()
    admin.post("/admin/organisations", json=ACME)

    issued = admin.post("/admin/organisations/acme/tokens", json={"label": "entra"})
    token = issued.json()
    listed = admin.get("/admin/organisations/acme/tokens")
    valid = admin.post(
        "/admin/organisations/acme/tokens/verify", json={"token": token["secret"]}
    )
    revoked = admin.delete(f"/admin/organisations/acme/tokens/{token['token']['id']}")
    invalid = admin.post(
        "/admin/organisations/acme/tokens/verify", json={"token": token["secret"]}
    )
    unknown = admin.delete("/admin/organisations/acme/tokens/tok_00000000")

    assert issued.status_code == 201
    assert len(token["secret"]) >= 43
    assert "shown only once" in token["warning"]
    assert token["secret"] not in listed.text
    assert [t["label"] for t in listed.json()] == ["entra"]
    assert valid.json() == {"valid": True, "token_id": token["token"]["id"]}
    assert revoked.json()["revoked"] is not None
    assert invalid.json() == {"valid": False, "token_id": None}
    assert unknown.status_code == 404


def test_verify_refuses_token_of_another_organisation(service: Service) -> None:
    admin = service.admin()
    admin.post("/admin/organisations", json=ACME)
    admin.post("/admin/organisations", json={**ACME, "slug": "globex"})
    secret = admin.post("/admin/organisations/acme/tokens").json()["secret"]

    response = admin.post(
        "/admin/organisations/globex/tokens/verify", json={"token": secret}
    )

    assert response.json() == {"valid": False, "token_id": None}


def test_audit_pages_show_who_what_when(service: Service) -> None:
    admin = service.admin()
    admin.post("/admin/organisations", json=ACME)
    secret = admin.post("/admin/organisations/acme/tokens").json()["secret"]
    with service.client(secret) as scim:
        user = scim.post(
            "/Users", json=entra_user("audit@x.com"), headers={"X-Request-Id": "r-1"}
        ).json()

    first = admin.get("/admin/organisations/acme/audit", params={"limit": 2}).json()
    second = admin.get(
        "/admin/organisations/acme/audit",
        params={"limit": 2, "before_id": first["next_before_id"]},
    ).json()
    of_user = admin.get("/admin/audit", params={"resource_id": user["id"]}).json()

    assert len(first["events"]) == 2
    assert first["events"][0]["resource_id"] == user["id"]
    assert first["events"][0]["actor_kind"] == "scim"
    assert first["events"][0]["request_id"] == "r-1"
    assert first["events"][0]["after"]["userName"] == "audit@x.com"
    assert [e["actor_kind"] for e in second["events"]] == ["admin"]
    assert second["next_before_id"] is None
    assert [e["resource_id"] for e in of_user["events"]] == [user["id"]]


@pytest.mark.parametrize("key", [None, "wrong", ""])
def test_admin_key_is_required(service: Service, key: str | None) -> None:
    response = service.admin(key).get("/admin/organisations")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.fixture
def keyless_service(sqlite_url: str) -> Iterator[Service]:
    yield from start_service(sqlite_url, admin_key=None, migrate=False)


def test_admin_api_without_configured_key_is_disabled(
    keyless_service: Service,
) -> None:
    response = keyless_service.admin("anything").get("/admin/organisations")

    assert response.status_code == 503
    assert "PROMPT_SCIM_ADMIN_KEY" in response.json()["detail"]


def test_openapi_documents_the_admin_routes(service: Service) -> None:
    spec = httpx.get(f"{service.url}/admin/openapi.json").json()

    assert set(spec["paths"]) == {
        "/admin/organisations",
        "/admin/organisations/{slug}",
        "/admin/organisations/{slug}/tokens",
        "/admin/organisations/{slug}/tokens/{token_id}",
        "/admin/organisations/{slug}/tokens/verify",
        "/admin/organisations/{slug}/audit",
        "/admin/audit",
    }
    assert "OrganisationCreate" in spec["components"]["schemas"]
    assert "IssuedTokenOut" in spec["components"]["schemas"]


def test_openapi_declares_the_admin_key_on_every_operation(service: Service) -> None:
    spec = httpx.get(f"{service.url}/admin/openapi.json").json()

    scheme = spec["components"]["securitySchemes"]["AdminKey"]
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert "PROMPT_SCIM_ADMIN_KEY" in scheme["description"]
    assert len(operations) == 10
    assert all(op["security"] == [{"AdminKey": []}] for op in operations)
    assert all({"401", "503"} <= set(op["responses"]) for op in operations)


def _raw_request(service: Service, head: str, body: bytes = b"") -> bytes:
    """Send a request head and part of a body; return what the server answers.

    The server must answer without waiting for the rest of the body: the socket
    times out (and the test fails) if it does wait.
    """
    host, port = service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


@pytest.mark.parametrize("key", [None, ADMIN_KEY], ids=["no-key", "admin-key"])
def test_admin_body_announced_too_large_is_refused_unread(
    service: Service, key: str | None
) -> None:
    auth = f"Authorization: Bearer {key}\n" if key else ""
    head = (
        "POST /admin/organisations HTTP/1.1\nHost: x\n"
        f"{auth}Content-Type: application/json\nContent-Length: 300000000\n"
    )

    answer = _raw_request(service, head, b'{"slug": "acme", "display_name": "')

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"detail":"The request body is larger than 65536 bytes' in answer
    assert service.store.list_organisations() == []


def test_admin_streamed_body_without_key_is_refused_unread(service: Service) -> None:
    head = (
        "POST /admin/organisations HTTP/1.1\nHost: x\n"
        "Content-Type: application/json\nTransfer-Encoding: chunked\n"
    )

    answer = _raw_request(service, head, b'10\r\n{"slug": "acme",\r\n')

    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b"Missing or wrong admin key" in answer
    assert service.store.list_organisations() == []


@pytest.mark.parametrize("chunked", [False, True])
def test_admin_body_over_the_cap_is_refused(service: Service, chunked: bool) -> None:
    body = json.dumps({**ACME, "display_name": "A" * 70_000}).encode()
    content: bytes | Iterator[bytes] = body
    if chunked:
        content = iter([body[i : i + 8192] for i in range(0, len(body), 8192)])

    response = service.admin().post(
        "/admin/organisations",
        content=content,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert "65536 bytes" in response.json()["detail"]
    assert service.store.list_organisations() == []


def test_admin_body_under_the_cap_is_served(service: Service) -> None:
    body = {**ACME, "display_name": "A" * 60_000}

    response = service.admin().post("/admin/organisations", json=body)

    assert response.status_code == 201
    assert response.json()["display_name"] == body["display_name"]


@pytest.fixture
def any_db_admin(any_db_service: Service) -> httpx.Client:
    """The admin API on SQLite and on PostgreSQL, with organisation 'acme'."""
    admin = any_db_service.admin()
    admin.post("/admin/organisations", json=ACME)
    return admin


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/organisations/ac%00me"),
        ("PATCH", "/admin/organisations/%00"),
        ("GET", "/admin/organisations/%00/tokens"),
        ("POST", "/admin/organisations/%00/tokens"),
        ("GET", "/admin/organisations/%00/audit"),
        ("GET", "/admin/audit?organisation=%00"),
        ("DELETE", "/admin/organisations/acme/tokens/tok_%00"),
    ],
)
def test_admin_names_holding_nul_are_404(
    any_db_admin: httpx.Client, method: str, path: str
) -> None:
    body = {"display_name": "X"} if method == "PATCH" else None

    response = any_db_admin.request(method, path, json=body)

    assert response.status_code == 404, response.text
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/admin/organisations", {**ACME, "slug": "b2", "display_name": "A\0"}),
        ("POST", "/admin/organisations", {**ACME, "slug": "b3", "tenant_id": "\0"}),
        ("POST", "/admin/organisations", {**ACME, "slug": "b4", "tenant_id": "t" * 65}),
        (
            "POST",
            "/admin/organisations",
            {**ACME, "slug": "b5", "display_name": "\ud800"},
        ),
        ("PATCH", "/admin/organisations/acme", {"default_section": "Ward\0"}),
        ("POST", "/admin/organisations/acme/tokens", {"label": "\0"}),
    ],
    ids=["display-nul", "tenant-nul", "tenant-long", "surrogate", "patch", "label"],
)
def test_admin_values_the_database_cannot_store_are_422(
    any_db_service: Service,
    any_db_admin: httpx.Client,
    method: str,
    path: str,
    body: dict,
) -> None:
    # json.dumps escapes the lone surrogate, which httpx's encoder would refuse.
    response = any_db_admin.request(
        method,
        path,
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert [o.slug for o in any_db_service.store.list_organisations()] == ["acme"]
    assert any_db_service.store.get_organisation("acme").default_section == "Ward 3"
    assert any_db_service.store.list_tokens("acme") == []


def test_admin_audit_of_an_impossible_resource_id_is_empty(
    any_db_admin: httpx.Client,
) -> None:
    response = any_db_admin.get("/admin/audit", params={"resource_id": "a\0"})

    assert response.status_code == 200, response.text
    assert response.json() == {"events": [], "next_before_id": None}


@pytest.mark.parametrize(
    ("before_id", "status"),
    [("9223372036854775808", 422), ("0", 422), ("9223372036854775807", 200)],
)
def test_admin_audit_before_id_is_bounded(
    any_db_admin: httpx.Client, before_id: str, status: int
) -> None:
    for path in ("/admin/audit", "/admin/organisations/acme/audit"):
        response = any_db_admin.get(path, params={"before_id": before_id})

        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
