"""Hostile or malformed SCIM requests get a SCIM 400, never a 500 or a 503.

Found by probing a live server: unbounded filters and values, deep nesting, lone
surrogates, NUL characters (PostgreSQL refuses them), huge numbers. On SQLite
and PostgreSQL where the databases differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scim_service.api._responses import error_response
from tests.scim_api._server import SCIM_JSON, TEST_ACTOR, Service
from tests.scim_api.test_entra import entra_user, patch

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim(any_db_service: Service) -> Iterator[httpx.Client]:
    """A SCIM client of organisation 'acme' on SQLite and on PostgreSQL."""
    any_db_service.organisation("acme")
    with any_db_service.client(any_db_service.token("acme")) as client:
        yield client


def assert_scim_error(
    response: httpx.Response, status: int, scim_type: str | None
) -> None:
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


# ---------------------------------------------------------------- nesting


def _nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def _nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


DEEP_BODIES = {
    "lists-100000": "[" * 100_000,
    "objects-100000": '{"a":' * 100_000,
    "in-title": '{"userName": "deep@x", "title": ' + _nested_lists(900) + "}",
    "in-name": '{"userName": "deep@x", "name": ' + _nested_objects(900) + "}",
    "in-patch-value": (
        '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], '
        '"Operations": [{"op": "add", "path": "title", "value": '
        + _nested_lists(900)
        + "}]}"
    ),
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/Users"),
        ("PUT", "/Users/{id}"),
        ("PATCH", "/Users/{id}"),
        ("POST", "/Users/.search"),
        ("POST", "/.search"),
        ("POST", "/Groups"),
    ],
)
@pytest.mark.parametrize("body", list(DEEP_BODIES.values()), ids=list(DEEP_BODIES))
def test_deeply_nested_bodies_are_invalid_syntax(
    acme: httpx.Client, method: str, path: str, body: str
) -> None:
    user_id = acme.post("/Users", json=entra_user("kept@x.com")).json()["id"]

    response = acme.request(
        method,
        path.format(id=user_id),
        content=body.encode(),
        headers={"Content-Type": SCIM_JSON},
    )

    assert_scim_error(response, 400, "invalidSyntax")
    assert user_names(acme) == ["kept@x.com"]


def test_bodies_nested_32_levels_are_parsed(acme: httpx.Client) -> None:
    body = '{"userName": "ok@x", "title": ' + _nested_lists(31) + "}"

    response = acme.post(
        "/Users", content=body.encode(), headers={"Content-Type": SCIM_JSON}
    )

    # Parsed, then refused by the schema (title is a string), not by the nesting.
    assert_scim_error(response, 400, "invalidValue")
    assert "title" in response.json()["detail"]


# ---------------------------------------------------------------- surrogates


@pytest.mark.parametrize(
    "body",
    [
        rb'{"userName": "ls@x", "\ud800": 1}',
        rb'{"userName": "\ud800@x"}',
        rb'{"userName": "ls@x", "title": "\udfff"}',
        rb'{"userName": "ls@x", "title": "\ude00\ud83d"}',
        b'{"userName": "\xed\xa0\x80@x"}',
    ],
    ids=["key", "userName", "low-alone", "reversed-pair", "utf8-encoded"],
)
def test_lone_surrogates_in_bodies_are_invalid_syntax(
    scim: httpx.Client, body: bytes
) -> None:
    response = scim.post("/Users", content=body, headers={"Content-Type": SCIM_JSON})

    assert_scim_error(response, 400, "invalidSyntax")
    assert user_names(scim) == []


def test_surrogate_pairs_are_characters(scim: httpx.Client) -> None:
    body = rb'{"userName": "\ud83d\ude00@x", "title": "\u00e9\ud83d\ude00"}'

    created = scim.post("/Users", content=body, headers={"Content-Type": SCIM_JSON})
    found = scim.get("/Users", params={"filter": 'userName eq "\U0001f600@x"'})

    assert created.status_code == 201, created.text
    assert created.json()["title"] == "\u00e9\U0001f600"
    assert found.json()["totalResults"] == 1


@pytest.mark.parametrize(
    "text",
    [r'userName eq "\ud800"', r'title eq "a\udc00"', r'emails[value eq "\ud800"]'],
)
def test_lone_surrogates_in_filters_are_invalid_filter(
    scim: httpx.Client, text: str
) -> None:
    response = scim.get("/Users", params={"filter": text})
    searched = scim.post("/Users/.search", json={"filter": text})

    assert_scim_error(response, 400, "invalidFilter")
    assert_scim_error(searched, 400, "invalidFilter")
    assert "surrogate" in response.json()["detail"]


def test_error_answers_quoting_a_surrogate_are_json() -> None:
    # Details quote what the client sent; writing one must never fail itself.
    response = error_response(400, "Unknown attribute 'ti\ud800tle'.", "invalidValue")

    assert json.loads(response.body)["detail"] == "Unknown attribute 'ti\ud800tle'."


def test_stored_lone_surrogates_are_answered_as_escapes(
    service: Service, acme: httpx.Client
) -> None:
    # Stored before bodies were checked: the answer escapes it instead of failing.
    org = service.store.get_organisation("acme")
    stored, _ = service.store.create_resource(
        org.id, "User", {"userName": "old@x", "title": "\ud800"}, actor=TEST_ACTOR
    )

    response = acme.get(f"/Users/{stored.id}")

    assert response.status_code == 200
    assert response.content.count(b"\\ud800") == 1
    assert response.json()["title"] == "\ud800"


# ---------------------------------------------------------------- NUL


@pytest.mark.parametrize("attribute", ["userName", "displayName", "externalId"])
def test_nul_in_indexed_values_is_refused(scim: httpx.Client, attribute: str) -> None:
    created = scim.post("/Users", json=entra_user("kept@x.com")).json()
    body = {**entra_user("nul@x.com"), attribute: "a\u0000b"}

    posted = scim.post("/Users", json=body)
    put = scim.put(f"/Users/{created['id']}", json=body)
    patched = scim.patch(
        f"/Users/{created['id']}",
        json=patch({"op": "replace", "path": attribute, "value": "\u0000"}),
    )

    for response in (posted, put, patched):
        assert_scim_error(response, 400, "invalidValue")
        assert "NUL" in response.json()["detail"]
    assert user_names(scim) == ["kept@x.com"]


def test_nul_anywhere_in_a_body_is_refused(scim: httpx.Client) -> None:
    response = scim.post("/Users", json={**entra_user("n@x.com"), "title": "\u0000"})

    assert_scim_error(response, 400, "invalidValue")
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize(
    "text",
    ['userName eq "a\\u0000"', 'externalId eq "\\u0000"', 'id eq "\\u0000"'],
)
def test_nul_in_filter_literals_is_invalid_filter(
    scim: httpx.Client, text: str
) -> None:
    response = scim.get("/Users", params={"filter": text})

    assert_scim_error(response, 400, "invalidFilter")
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("rid", ["%00", "a%00b", "x" * 40, "%E2%82%AC", "ABCDEF" * 6])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_ids_that_cannot_be_ours_are_404(
    scim: httpx.Client, rid: str, method: str
) -> None:
    body: dict[str, Any] = entra_user("x@x.com")
    if method == "PATCH":
        body = patch({"op": "replace", "path": "title", "value": "x"})

    response = scim.request(
        method,
        str(scim.base_url).rstrip("/") + f"/Users/{rid}",
        json=None if method in ("GET", "DELETE") else body,
    )

    assert_scim_error(response, 404, None)
    assert "does not exist" in response.json()["detail"]


def test_groups_refuse_members_that_cannot_be_ids(scim: httpx.Client) -> None:
    response = scim.post(
        "/Groups", json={"displayName": "G", "members": [{"value": "a\u0000"}]}
    )
    odd = scim.post("/Groups", json={"displayName": "G", "members": [{"value": "q"}]})

    assert_scim_error(response, 400, "invalidValue")
    assert_scim_error(odd, 400, "invalidValue")


# ---------------------------------------------------------------- numbers


def test_huge_integer_literals_are_invalid_filter(scim: httpx.Client) -> None:
    text = "userName eq 1" + "0" * 5000

    response = scim.get("/Users", params={"filter": text})

    assert_scim_error(response, 400, "invalidFilter")


# ---------------------------------------------------------------- paging


@pytest.mark.parametrize("name", ["startIndex", "count"])
@pytest.mark.parametrize(
    "value", ["1_0", "\u0661\u0660", "1e300", " 1", "+1", "1.0", "0x10", "ten"]
)
def test_paging_parameters_take_only_ascii_digits(
    acme: httpx.Client, name: str, value: str
) -> None:
    response = acme.get("/Users", params={name: value})

    assert_scim_error(response, 400, "invalidValue")
    assert name in response.json()["detail"]


@pytest.mark.parametrize("name", ["startIndex", "count"])
@pytest.mark.parametrize("value", [1e300, 1.0, True, "1_0", [1]])
def test_search_paging_takes_only_integers(
    acme: httpx.Client, name: str, value: object
) -> None:
    response = acme.post("/Users/.search", json={name: value})

    assert_scim_error(response, 400, "invalidValue")
    assert name in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "start", "items"),
    [
        ({"startIndex": "-5", "count": "2"}, 1, 2),
        ({"startIndex": "0"}, 1, 3),
        ({"count": "-3"}, 1, 0),
        ({"startIndex": "2", "count": "1"}, 2, 1),
        ({"startIndex": "1" + "0" * 300}, 2**31 - 1, 0),
        ({"startIndex": "-1" + "0" * 300}, 1, 3),
        ({"count": "1" + "0" * 4000}, 1, 3),
        ({"count": "9" * 18}, 1, 3),
    ],
)
def test_paging_is_clamped_as_rfc_7644_says(
    acme: httpx.Client, params: dict[str, str], start: int, items: int
) -> None:
    for name in ("a@x", "b@x", "c@x"):
        acme.post("/Users", json=entra_user(name))

    listed = acme.get("/Users", params=params)
    filtered = acme.get("/Users", params={**params, "filter": "userName pr"})
    searched = acme.post(
        "/Users/.search", json={key: int(value) for key, value in params.items()}
    )

    for response in (listed, filtered, searched):
        assert response.status_code == 200, response.text
        assert response.json()["startIndex"] == start
        assert response.json()["itemsPerPage"] == items
        assert response.json()["totalResults"] == 3
