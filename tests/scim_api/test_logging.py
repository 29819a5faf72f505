"""Logs: one structured line per request, and never a token or the admin key."""

from __future__ import annotations

import json
import logging
import time

import pytest

from scim_service._logging import JsonFormatter, KeyValueFormatter
from tests.scim_api._server import ADMIN_KEY, Service
from tests.scim_api.test_entra import entra_user, patch


def wait_for_access_lines(caplog: pytest.LogCaptureFixture, count: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [
            r
            for r in caplog.records
            if r.name == "scim_service.access"
            and getattr(r, "fields", {}).get("path", "").startswith("/scim/v2")
        ]
        if len(lines) >= count:
            return
        time.sleep(0.02)


def test_no_secret_ever_reaches_the_logs(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = service.admin()
    wrong_key = "wrong-admin-key-0123456789"

    admin.post("/admin/organisations", json={"slug": "acme", "display_name": "Acme"})
    issued = admin.post("/admin/organisations/acme/tokens", json={"label": "entra"})
    secret = issued.json()["secret"]
    token_id = issued.json()["token"]["id"]
    revoked_secret = admin.post("/admin/organisations/acme/tokens").json()["secret"]
    admin.delete(
        "/admin/organisations/acme/tokens/"
        + admin.get("/admin/organisations/acme/tokens").json()[-1]["id"]
    )
    admin.post("/admin/organisations/acme/tokens/verify", json={"token": secret})
    service.admin(wrong_key).get("/admin/organisations")

    with service.client(secret) as scim:
        scim.get("/Users", params={"filter": 'userName eq "secret-mail@x.com"'})
        user = scim.post("/Users", json=entra_user("secret-mail@x.com")).json()
        scim.post("/Users", json=entra_user("secret-mail@x.com"))  # 409
        scim.patch(
            f"/Users/{user['id']}",
            json=patch({"op": "Replace", "path": "active", "value": "maybe"}),
        )
        scim.delete(f"/Users/{user['id']}")
    with service.client(revoked_secret) as scim:
        scim.get("/Users")
    with service.client(secret + "x") as scim:
        scim.get("/Users")

    # The access line is written once the response has been sent, so the last
    # one can land just after the client has its answer.
    wait_for_access_lines(caplog, 7)

    # Everything but the test's own HTTP client (httpx/httpcore) is the service.
    records = [
        r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]
    lines = [
        formatter.format(record)
        for record in records
        for formatter in (JsonFormatter(), KeyValueFormatter())
    ]
    text = "\n".join(lines)
    for forbidden in (secret, revoked_secret, ADMIN_KEY, wrong_key, "Bearer "):
        assert forbidden not in text
    # Filters hold e-mail addresses: the query string is never logged.
    assert "secret-mail" not in text

    access = [
        json.loads(JsonFormatter().format(r))
        for r in caplog.records
        if r.name == "scim_service.access"
    ]
    scim_lines = [a for a in access if a["path"].startswith("/scim/v2")]
    assert [a["status"] for a in scim_lines] == [200, 201, 409, 400, 204, 401, 401]
    conflict = scim_lines[2]
    assert conflict["organisation"] == "acme"
    assert conflict["scim_type"] == "uniqueness"
    assert conflict["method"] == "POST"
    assert conflict["path"] == "/scim/v2/Users"
    assert conflict["duration_ms"] >= 0
    assert len({a["request_id"] for a in access}) == len(access)

    events = service.store.audit_events("acme", resource_id=user["id"], limit=10)
    assert {e.token_id for e in events} == {token_id}
    assert all(e.request_id for e in events)


def test_request_id_is_propagated_or_generated(service: Service) -> None:
    service.organisation("acme")
    with service.client(service.token("acme")) as scim:
        given = scim.get("/Users", headers={"X-Request-Id": "abc-123"})
        entra = scim.get("/Users", headers={"client-request-id": "e1f2-a3"})
        injected = scim.get("/Users", headers={"X-Request-Id": "bad id\r"[:6]})
        generated = scim.get("/Users")
        user = scim.post(
            "/Users",
            json=entra_user("rid@x.com"),
            headers={"X-Request-Id": "create-req-1"},
        ).json()

    assert given.headers["x-request-id"] == "abc-123"
    assert entra.headers["x-request-id"] == "e1f2-a3"
    assert injected.headers["x-request-id"] != "bad id"
    assert len(generated.headers["x-request-id"]) == 32
    events = service.store.audit_events("acme", resource_id=user["id"], limit=5)
    assert [e.request_id for e in events] == ["create-req-1"]


def test_access_line_stays_one_line_for_hostile_paths(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scim_service.access")
    service.organisation("acme")
    with service.client(service.token("acme")) as scim:
        response = scim.get("/Users/a%0Afake_field=1%20x")

    wait_for_access_lines(caplog, 1)
    record = next(r for r in caplog.records if r.name == "scim_service.access")
    for formatter in (JsonFormatter(), KeyValueFormatter()):
        assert "\n" not in formatter.format(record)
    assert response.status_code == 404
