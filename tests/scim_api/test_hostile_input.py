"""Hostile or malformed SCIM requests get a SCIM 400, never a 500 or a 503.

Found by probing a live server: unbounded filters and values, deep nesting, lone
surrogates, NUL characters (PostgreSQL refuses them), huge numbers. On SQLite
and PostgreSQL where the databases differ.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.scim_api._server import SCIM_JSON, Service
from tests.scim_api.test_entra import entra_user, patch

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim(any_db_service: Service) -> Iterator[httpx.Client]:
    """A SCIM client of organisation 'acme' on SQLite and on PostgreSQL."""
    any_db_service.organisation("acme")
    with any_db_service.client(any_db_service.token("acme")) as client:
        yield client


def assert_scim_error(response: httpx.Response, status: int, scim_type: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == SCIM_JSON
    body = response.json()
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type


def user_names(client: httpx.Client) -> list[str]:
    listed = client.get("/Users").json()["Resources"]
    return [user["userName"] for user in listed]


# ---------------------------------------------------------------- sizes


def test_filter_with_more_than_50_comparisons_is_refused(acme: httpx.Client) -> None:
    text = " or ".join(f'title eq "t{i}"' for i in range(60))

    response = acme.get("/Users", params={"filter": text})

    assert_scim_error(response, 400, "invalidFilter")
    assert "more than 50 comparisons" in response.json()["detail"]


def test_filter_longer_than_4096_characters_is_refused(acme: httpx.Client) -> None:
    response = acme.get("/Users", params={"filter": f'title eq "{"t" * 5000}"'})

    assert_scim_error(response, 400, "invalidFilter")
    assert "at most 4096" in response.json()["detail"]


@pytest.mark.parametrize("attribute", ["userName", "externalId", "displayName"])
def test_indexed_values_over_1024_characters_are_refused(
    acme: httpx.Client, attribute: str
) -> None:
    body = {**entra_user("long@x.com"), attribute: "x" * 1_000_000}
    acme.post("/Users", json=entra_user("short@x.com"))
    user_id = acme.get("/Users").json()["Resources"][0]["id"]

    posted = acme.post("/Users", json=body)
    patched = acme.patch(
        f"/Users/{user_id}",
        json=patch({"op": "replace", "path": attribute, "value": "y" * 1025}),
    )

    assert_scim_error(posted, 400, "invalidValue")
    assert_scim_error(patched, 400, "invalidValue")
    assert "at most 1024" in posted.json()["detail"]
    assert user_names(acme) == ["short@x.com"]


@pytest.mark.parametrize("blank", ["   ", "\t\n", ""])
def test_blank_user_name_is_refused_on_post_put_and_patch(
    acme: httpx.Client, blank: str
) -> None:
    created = acme.post("/Users", json=entra_user("kept@x.com")).json()

    posted = acme.post("/Users", json=entra_user(blank))
    put = acme.put(f"/Users/{created['id']}", json=entra_user(blank))
    patched = acme.patch(
        f"/Users/{created['id']}",
        json=patch({"op": "replace", "path": "userName", "value": blank}),
    )

    for response in (posted, put, patched):
        assert_scim_error(response, 400, "invalidValue")
        assert "userName" in response.json()["detail"]
    assert user_names(acme) == ["kept@x.com"]
