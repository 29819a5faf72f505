"""Tokens select the organisation; organisations are isolated; failures never 401."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.scim_api._server import SCIM_JSON, TEST_ACTOR, Service, start_service
from tests.scim_api.test_entra import entra_user

UNAUTHORIZED_DETAIL = (
    "The bearer token is missing, unknown or revoked. Use a current Provisioning "
    "Authentication Code of this organisation as the Secret Token."
)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == SCIM_JSON
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "401",
        "detail": UNAUTHORIZED_DETAIL,
    }


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "pscim_abc"],
)
def test_missing_or_bad_token_is_401(
    service: Service, authorization: str | None
) -> None:
    service.organisation("acme")
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = httpx.get(f"{service.scim}/Users", headers=headers)

    assert_unauthorized(response)


def test_organisations_are_isolated(any_db_service: Service) -> None:
    service = any_db_service
    service.organisation("acme")
    service.organisation("globex")
    acme = service.client(service.token("acme"))
    globex = service.client(service.token("globex"))

    in_acme = acme.post("/Users", json=entra_user("same@example.com")).json()
    in_globex = globex.post("/Users", json=entra_user("same@example.com"))
    cross_get = globex.get(f"/Users/{in_acme['id']}")
    cross_patch = globex.patch(
        f"/Users/{in_acme['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": False}],
        },
    )
    cross_delete = globex.delete(f"/Users/{in_acme['id']}")
    cross_filter = globex.get("/Users", params={"filter": f'id eq "{in_acme["id"]}"'})

    assert in_globex.status_code == 201
    assert in_globex.json()["id"] != in_acme["id"]
    assert [r.status_code for r in (cross_get, cross_patch, cross_delete)] == [404] * 3
    assert cross_filter.json()["totalResults"] == 0
    assert acme.get(f"/Users/{in_acme['id']}").json()["active"] is True


def test_path_form_accepts_own_token_and_401s_other_organisation(
    service: Service,
) -> None:
    service.organisation("acme")
    service.organisation("globex")
    acme_token = service.token("acme")

    with service.client(acme_token, org_path="acme") as own:
        created = own.post("/Users", json=entra_user("p@example.com"))
    with service.client(acme_token, org_path="globex") as other:
        foreign = other.get("/Users")
    with service.client(acme_token, org_path="no-such-org") as missing:
        unknown = missing.get("/Users")

    assert created.status_code == 201
    assert "/scim/v2/acme/Users/" in created.headers["location"]
    assert_unauthorized(foreign)
    assert_unauthorized(unknown)


def test_revoked_token_is_401_and_rotation_overlap_works(service: Service) -> None:
    service.organisation("acme")
    old = service.store.issue_token("acme", actor=TEST_ACTOR)
    new = service.token("acme")
    with service.client(old.secret) as client:
        before = client.get("/Users")

    revoked = service.admin().delete(f"/admin/organisations/acme/tokens/{old.info.id}")
    with service.client(old.secret) as client:
        after = client.get("/Users")
    with service.client(new) as client:
        still = client.get("/Users")

    assert before.status_code == 200
    assert revoked.status_code == 200
    assert_unauthorized(after)
    assert still.status_code == 200


def test_disabled_provisioning_is_refused_with_403(service: Service) -> None:
    service.organisation("acme", provisioning_enabled=False)

    with service.client(service.token("acme")) as client:
        response = client.get("/Users")

    assert response.status_code == 403
    assert response.headers["content-type"] == SCIM_JSON
    assert "provisioning is disabled" in response.json()["detail"]


def test_disabling_through_admin_api_takes_effect(service: Service) -> None:
    service.organisation("acme")
    with service.client(service.token("acme")) as client:
        assert client.get("/Users").status_code == 200
        changed = service.admin().patch(
            "/admin/organisations/acme", json={"provisioning_enabled": False}
        )
        refused = client.get("/Users")

    assert changed.status_code == 200
    assert refused.status_code == 403


@pytest.fixture
def postgres_service() -> Iterator[tuple[Service, str]]:
    from tests.conftest import postgres_database

    with postgres_database("scimapi") as url:
        yield from ((service, url) for service in start_service(url))


@pytest.mark.postgres
def test_database_down_gives_503_never_401(
    postgres_service: tuple[Service, str],
) -> None:
    service, url = postgres_service
    service.organisation("acme")
    used = service.token("acme")
    fresh = service.token("acme")
    with service.client(used) as client:
        assert client.get("/Users").status_code == 200

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
        )

    with service.client(used) as client:
        cached_auth = client.get("/Users")
    with service.client(fresh) as client:
        uncached_auth = client.get("/Users")
    ready = httpx.get(f"{service.url}/readyz")
    health = httpx.get(f"{service.url}/healthz")

    for response in (cached_auth, uncached_auth):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == SCIM_JSON
        assert response.json()["status"] == "503"
    assert ready.status_code == 503
    assert health.status_code == 200


@pytest.fixture
def tableless_service(tmp_path: Path) -> Iterator[Service]:
    # A SQLite file without the schema: every token lookup fails in the database.
    yield from start_service(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)


@pytest.mark.parametrize("token", ["pscim_" + "a" * 43, "anything"])
def test_unusable_sqlite_store_gives_503_never_401(
    tableless_service: Service, token: str
) -> None:
    with tableless_service.client(token) as client:
        response = client.get("/Users", params={"filter": 'userName eq "x"'})
    ready = httpx.get(f"{tableless_service.url}/readyz")

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == SCIM_JSON
    assert response.headers["retry-after"] == "30"
    assert response.json()["status"] == "503"
    assert token not in response.text
    assert ready.status_code == 503


def _last_used(service: Service, slug: str) -> list[object]:
    return [info.last_used for info in service.store.list_tokens(slug)]


def test_last_use_is_recorded_only_for_accepted_requests(service: Service) -> None:
    service.organisation("acme")
    service.organisation("globex")
    service.organisation("closed", provisioning_enabled=False)
    acme_token = service.token("acme")
    closed_token = service.token("closed")

    with service.client(acme_token, org_path="globex") as elsewhere:
        refused = elsewhere.get("/Users")
    with service.client(closed_token, org_path="closed") as closed:
        forbidden = closed.get("/Users")
    refused_last_used = _last_used(service, "acme")
    with service.client(acme_token, org_path="acme") as own:
        accepted = own.get("/Users")

    assert_unauthorized(refused)
    assert forbidden.status_code == 403
    assert refused_last_used == [None]
    assert _last_used(service, "closed") == [None]
    assert accepted.status_code == 200
    assert _last_used(service, "acme") != [None]


def test_verify_records_last_use_only_for_the_right_organisation(
    service: Service,
) -> None:
    service.organisation("acme")
    service.organisation("globex")
    secret = service.token("acme")
    admin = service.admin()

    wrong = admin.post(
        "/admin/organisations/globex/tokens/verify", json={"token": secret}
    )
    after_wrong = _last_used(service, "acme")
    right = admin.post(
        "/admin/organisations/acme/tokens/verify", json={"token": secret}
    )

    assert wrong.json()["valid"] is False
    assert after_wrong == [None]
    assert right.json()["valid"] is True
    assert _last_used(service, "acme") != [None]
