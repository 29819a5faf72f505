"""Entra-shaped request sequences over HTTP (reference/scim-entra.md sections 1-3)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.scim_api._server import SCIM_JSON, Service

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROMPT = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def entra_user(user_name: str, external_id: str | None = None) -> dict[str, Any]:
    """A POST body as Entra sends it: nulls, read-only meta, string boolean."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": external_id or str(uuid.uuid4()),
        "userName": user_name,
        "active": "True",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "Adele Vance",
            "familyName": "Vance",
            "givenName": "Adele",
        },
        "roles": [],
        "title": None,
        "addresses": None,
        "manager": None,
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def by_user_name(client: httpx.Client, user_name: str) -> dict[str, Any]:
    response = client.get("/Users", params={"filter": f'userName eq "{user_name}"'})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("path", "attribute"),
    [("/Users", "userName"), ("/Users", "externalId"), ("/Groups", "displayName")],
)
def test_test_connection_probe_answers_empty_list(
    acme: httpx.Client, path: str, attribute: str
) -> None:
    # Entra's probe: form-encoded spaces (+) and quotes (%22), a random GUID.
    query = f"filter={attribute}+eq+%22{uuid.uuid4()}%22"
    response = acme.get(f"{path}?{query}&excludedAttributes=members")

    assert response.status_code == 200
    assert response.headers["content-type"] == SCIM_JSON
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_post_entra_body_creates_user_with_organisation_defaults(
    acme: httpx.Client,
) -> None:
    response = acme.post(
        "/Users",
        content=httpx.Request("POST", "/", json=entra_user("Adele@Contoso.com")).read(),
        headers={"Content-Type": "application/scim+json; charset=utf-8"},
    )

    assert response.status_code == 201, response.text
    user = response.json()
    assert response.headers["location"] == user["meta"]["location"]
    assert user["meta"]["location"].endswith(f"/scim/v2/Users/{user['id']}")
    assert user["userName"] == "Adele@Contoso.com"
    assert user["active"] is True
    assert user[PROMPT] == {"department": "Nursing", "section": "Ward 3"}
    assert "title" not in user
    assert "manager" not in user


def test_get_by_user_name_is_case_insensitive_hit_and_miss(acme: httpx.Client) -> None:
    created = acme.post("/Users", json=entra_user("Adele@Contoso.com")).json()

    hit = by_user_name(acme, "adele@CONTOSO.com")
    miss = by_user_name(acme, "adele@fabrikam.com")

    assert hit["totalResults"] == 1
    assert hit["Resources"][0]["id"] == created["id"]
    assert hit["Resources"][0]["userName"] == "Adele@Contoso.com"
    assert miss["totalResults"] == 0


def test_external_id_filter_is_case_exact(acme: httpx.Client) -> None:
    acme.post("/Users", json=entra_user("a@contoso.com", "AbC-1"))

    def count(value: str) -> int:
        response = acme.get("/Users", params={"filter": f'externalId eq "{value}"'})
        total: int = response.json()["totalResults"]
        return total

    assert count("AbC-1") == 1
    assert count("abc-1") == 0


def test_legacy_patch_shape_is_applied(acme: httpx.Client) -> None:
    user = acme.post("/Users", json=entra_user("adele@contoso.com")).json()
    body = patch(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a2@c.com"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Retail"},
        {"op": "Replace", "path": "displayName", "value": "Adele V."},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": user["id"]},
    )

    response = acme.patch(f"/Users/{user['id']}", json=body)

    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["emails"][0]["value"] == "a2@c.com"
    assert patched[ENTERPRISE]["department"] == "Retail"
    assert patched[ENTERPRISE]["manager"]["value"] == user["id"]
    assert patched["displayName"] == "Adele V."
    assert acme.get(f"/Users/{user['id']}").json() == patched


def test_aadoptscim062020_patch_shape_is_applied(service: Service) -> None:
    service.organisation("acme")
    token = service.token("acme")
    # The flag is part of the Tenant URL: it must be ignored as a query parameter.
    with service.client(token) as client:
        user = client.post("/Users?aadOptscim062020", json=entra_user("b@c.com")).json()
        body = patch(
            {
                "op": "replace",
                "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    f"{ENTERPRISE}:employeeNumber": "Aklq",
                },
            },
            {"op": "replace", "path": "active", "value": False},
        )
        response = client.patch(f"/Users/{user['id']}?aadOptscim062020", json=body)

    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["displayName"] == "Bjfe"
    assert patched["name"]["givenName"] == "Kkom"
    assert patched["name"]["familyName"] == "Vance"
    assert patched[ENTERPRISE]["employeeNumber"] == "Aklq"
    assert patched["active"] is False


@pytest.mark.parametrize("disable", ["False", "false", False])
def test_disable_and_re_enable_keep_user_visible(
    acme: httpx.Client, disable: object
) -> None:
    user = acme.post("/Users", json=entra_user("c@contoso.com")).json()

    off = acme.patch(
        f"/Users/{user['id']}",
        json=patch({"op": "Replace", "path": "active", "value": disable}),
    )
    found = by_user_name(acme, "c@contoso.com")
    on = acme.patch(
        f"/Users/{user['id']}",
        json=patch({"op": "Replace", "path": "active", "value": "True"}),
    )

    assert off.status_code == 200
    assert off.json()["active"] is False
    assert found["Resources"][0]["active"] is False
    assert acme.get(f"/Users/{user['id']}").status_code == 200
    assert on.json()["active"] is True


def test_delete_then_recreate_reattaches_same_id_and_department(
    acme: httpx.Client,
) -> None:
    body = entra_user("d@contoso.com")
    user = acme.post("/Users", json=body).json()
    moved = acme.patch(
        f"/Users/{user['id']}",
        json=patch({"op": "Replace", "path": f"{PROMPT}:department", "value": "ICU"}),
    )
    assert moved.json()[PROMPT]["department"] == "ICU"

    deleted = acme.delete(f"/Users/{user['id']}")
    gone = acme.get(f"/Users/{user['id']}")
    listed = by_user_name(acme, "d@contoso.com")
    again = acme.post("/Users", json=body)

    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert gone.json()["status"] == "404"
    assert listed["totalResults"] == 0
    assert again.status_code == 201
    assert again.json()["id"] == user["id"]
    assert again.json()[PROMPT] == {"department": "ICU", "section": "Ward 3"}
    assert by_user_name(acme, "d@contoso.com")["totalResults"] == 1


def test_duplicate_user_name_in_other_case_is_409_uniqueness(
    acme: httpx.Client,
) -> None:
    acme.post("/Users", json=entra_user("e@contoso.com"))

    response = acme.post("/Users", json=entra_user("E@CONTOSO.COM"))

    assert response.status_code == 409
    assert response.headers["content-type"] == SCIM_JSON
    assert response.json()["scimType"] == "uniqueness"
    assert response.json()["status"] == "409"


def test_patch_changing_only_case_of_own_user_name_succeeds(
    acme: httpx.Client,
) -> None:
    user = acme.post("/Users", json=entra_user("f@contoso.com")).json()

    response = acme.patch(
        f"/Users/{user['id']}",
        json=patch({"op": "Replace", "path": "userName", "value": "F@Contoso.com"}),
    )

    assert response.status_code == 200, response.text
    assert response.json()["userName"] == "F@Contoso.com"


def test_failing_patch_writes_nothing(acme: httpx.Client) -> None:
    user = acme.post("/Users", json=entra_user("g@contoso.com")).json()

    response = acme.patch(
        f"/Users/{user['id']}",
        json=patch(
            {"op": "Replace", "path": "displayName", "value": "Changed"},
            {"op": "Replace", "path": "active", "value": "maybe"},
        ),
    )

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    after = acme.get(f"/Users/{user['id']}").json()
    assert "displayName" not in after
    assert after["meta"]["version"] == user["meta"]["version"]


def test_patch_hitting_a_taken_user_name_writes_nothing(
    any_db_service: Service,
) -> None:
    service = any_db_service
    service.organisation("acme")
    with service.client(service.token("acme")) as scim:
        scim.post("/Users", json=entra_user("taken@contoso.com"))
        user = scim.post("/Users", json=entra_user("mine@contoso.com")).json()

        response = scim.patch(
            f"/Users/{user['id']}",
            json=patch(
                {"op": "Replace", "path": "displayName", "value": "Changed"},
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "userName", "value": "TAKEN@contoso.com"},
            ),
        )
        after = scim.get(f"/Users/{user['id']}").json()

    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert after == user
    events = service.store.audit_events("acme", resource_id=user["id"], limit=5)
    assert [e.action for e in events] == ["resource.create"]


def test_put_replaces_user_and_keeps_prompt_department(acme: httpx.Client) -> None:
    user = acme.post("/Users", json=entra_user("h@contoso.com")).json()
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "h@contoso.com",
        "displayName": "Replaced",
    }

    response = acme.put(f"/Users/{user['id']}", json=body)

    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["displayName"] == "Replaced"
    assert "emails" not in replaced
    assert replaced[PROMPT]["department"] == "Nursing"


def test_groups_reference_live_users_and_honour_excluded_members(
    acme: httpx.Client,
) -> None:
    user = acme.post("/Users", json=entra_user("i@contoso.com")).json()
    group = acme.post(
        "/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Ward 3 Nurses",
            "members": [],
        },
    ).json()

    added = acme.patch(
        f"/Groups/{group['id']}",
        json=patch({"op": "Add", "path": "members", "value": [{"value": user["id"]}]}),
    )
    bad = acme.patch(
        f"/Groups/{group['id']}",
        json=patch({"op": "Add", "path": "members", "value": [{"value": "nobody"}]}),
    )
    without = acme.get(
        "/Groups",
        params={
            "filter": 'displayName eq "ward 3 nurses"',
            "excludedAttributes": "members",
        },
    ).json()

    assert added.status_code == 200, added.text
    assert [m["value"] for m in added.json()["members"]] == [user["id"]]
    assert bad.status_code == 400
    assert bad.json()["scimType"] == "invalidValue"
    assert without["totalResults"] == 1
    assert "members" not in without["Resources"][0]


def test_list_paging_is_stable_and_count_zero_gives_total_only(
    acme: httpx.Client,
) -> None:
    ids = [
        acme.post("/Users", json=entra_user(f"p{n}@contoso.com")).json()["id"]
        for n in range(7)
    ]

    pages = [
        acme.get("/Users", params={"startIndex": start, "count": 3}).json()
        for start in (1, 4, 7)
    ]
    only_total = acme.get("/Users", params={"count": 0}).json()
    filtered = acme.get(
        "/Users",
        params={"filter": 'userName sw "p"', "startIndex": 2, "count": 2},
    ).json()

    assert [r["id"] for page in pages for r in page["Resources"]] == ids
    assert [page["itemsPerPage"] for page in pages] == [3, 3, 1]
    assert all(page["totalResults"] == 7 for page in pages)
    assert only_total["totalResults"] == 7
    assert only_total["Resources"] == []
    assert filtered["totalResults"] == 7
    assert [r["id"] for r in filtered["Resources"]] == ids[1:3]


def test_attributes_parameter_projects_list_and_get(acme: httpx.Client) -> None:
    user = acme.post("/Users", json=entra_user("j@contoso.com")).json()

    got = acme.get(f"/Users/{user['id']}", params={"attributes": "userName"}).json()
    listed = acme.get(
        "/Users", params={"excludedAttributes": "emails,name", "count": 5}
    ).json()

    assert set(got) == {"schemas", "id", "userName"}
    resource = listed["Resources"][0]
    assert "emails" not in resource
    assert "name" not in resource
    assert resource["userName"] == "j@contoso.com"


def test_attributes_parameter_applies_to_post_put_and_patch(
    acme: httpx.Client,
) -> None:
    # RFC 7644 3.9: any operation returning a resource honours the parameters.
    created = acme.post(
        "/Users", params={"attributes": "userName"}, json=entra_user("q@contoso.com")
    )
    uid = created.json()["id"]
    replaced = acme.put(
        f"/Users/{uid}",
        params={"excludedAttributes": f"emails,{PROMPT}"},
        json=entra_user("q@contoso.com"),
    )
    patched = acme.patch(
        f"/Users/{uid}",
        params={"attributes": "name.givenName"},
        json=patch({"op": "Replace", "path": "name.givenName", "value": "Q"}),
    )

    assert created.status_code == 201
    assert set(created.json()) == {"schemas", "id", "userName"}
    assert created.headers["location"].endswith(f"/Users/{uid}")
    assert replaced.status_code == 200
    assert "emails" not in replaced.json()
    assert PROMPT not in replaced.json()
    assert replaced.json()["userName"] == "q@contoso.com"
    assert patched.json() == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": uid,
        "name": {"givenName": "Q"},
    }
    assert acme.get(f"/Users/{uid}").json()[PROMPT]["department"] == "Nursing"


def test_search_endpoint_uses_list_logic(acme: httpx.Client) -> None:
    acme.post("/Users", json=entra_user("k@contoso.com"))
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "K@contoso.com"',
        "attributes": ["userName"],
    }

    on_users = acme.post("/Users/.search", json=body)
    at_root = acme.post("/.search", json=body)

    assert on_users.status_code == 200
    assert on_users.json()["totalResults"] == 1
    assert at_root.json()["totalResults"] == 1
    assert set(at_root.json()["Resources"][0]) == {"schemas", "id", "userName"}


def test_max_results_caps_count(service: Service) -> None:
    service.organisation("acme")
    with service.client(service.token("acme")) as client:
        for n in range(3):
            client.post("/Users", json=entra_user(f"m{n}@contoso.com"))
        spc = client.get("/ServiceProviderConfig").json()
        listed = client.get("/Users", params={"count": 100000}).json()

    assert spc["filter"] == {"supported": True, "maxResults": 200}
    assert listed["itemsPerPage"] == 3


def test_entra_cycle_on_every_database(any_db_service: Service) -> None:
    service = any_db_service
    service.organisation("acme", default_department="Nursing")
    body = entra_user("Cycle@Contoso.com", "object-1")
    with service.client(service.token("acme")) as scim:
        probe = by_user_name(scim, str(uuid.uuid4()))
        created = scim.post("/Users", json=body)
        uid = created.json()["id"]
        hit = by_user_name(scim, "cycle@contoso.com")
        legacy = scim.patch(
            f"/Users/{uid}",
            json=patch({"op": "Replace", "path": "active", "value": "False"}),
        )
        flagged = scim.patch(
            f"/Users/{uid}?aadOptscim062020",
            json=patch({"op": "replace", "value": {"name.givenName": "Cy"}}),
        )
        duplicate = scim.post("/Users", json=entra_user("CYCLE@contoso.com"))
        deleted = scim.delete(f"/Users/{uid}")
        missing = scim.get(f"/Users/{uid}")
        again = scim.post("/Users", json=body)

    assert probe["totalResults"] == 0
    assert created.status_code == 201
    assert hit["Resources"][0]["id"] == uid
    assert legacy.json()["active"] is False
    assert flagged.json()["name"]["givenName"] == "Cy"
    assert duplicate.status_code == 409
    assert deleted.status_code == 204
    assert missing.status_code == 404
    assert uid in missing.json()["detail"]
    assert again.json()["id"] == uid
    assert again.json()[PROMPT]["department"] == "Nursing"
