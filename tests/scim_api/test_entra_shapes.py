"""Entra's two PATCH shapes over HTTP: legacy and `aadOptscim062020` (MS-COMPAT).

Each scenario sends the same change in both shapes (reference/scim-entra.md 2.2)
and checks the stored result, which must not depend on the shape.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.scim_api._server import Service
from tests.scim_api.test_entra import ENTERPRISE, entra_user, patch

SHAPES = ["legacy", "aadOptscim062020"]
WORK_EMAIL = 'emails[type eq "work"].value'
MOBILE = 'phoneNumbers[type eq "mobile"].value'


def op(shape: str, name: str, path: str | None = None, value: Any = None) -> dict:
    """One PatchOp operation: capitalised op without the flag, lower case with it."""
    operation: dict[str, Any] = {
        "op": name.capitalize() if shape == "legacy" else name.lower()
    }
    if path is not None:
        operation["path"] = path
    if value is not None or name.lower() != "remove":
        operation["value"] = value
    return operation


def send(client: httpx.Client, shape: str, url: str, *operations: dict) -> dict:
    # With the flag, the Tenant URL carries it and it reaches every request.
    query = "?aadOptscim062020" if shape != "legacy" else ""
    response = client.patch(url + query, json=patch(*operations))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stored(client: httpx.Client, uid: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/Users/{uid}").json()
    body.pop("meta")
    return body


@pytest.mark.parametrize(
    ("shape", "off", "on"),
    [("legacy", "False", "True"), ("aadOptscim062020", False, True)],
)
def test_disable_and_enable(
    acme: httpx.Client, shape: str, off: object, on: object
) -> None:
    uid = acme.post("/Users", json=entra_user("d@contoso.com")).json()["id"]

    disabled = send(acme, shape, f"/Users/{uid}", op(shape, "replace", "active", off))
    listed = acme.get("/Users", params={"filter": 'userName eq "D@contoso.com"'})
    enabled = send(acme, shape, f"/Users/{uid}", op(shape, "replace", "active", on))

    assert disabled["active"] is False
    assert listed.json()["Resources"][0]["active"] is False
    assert enabled["active"] is True


def _several_replaces(shape: str, mail: str) -> list[dict[str, Any]]:
    simple = {
        "displayName": "Adele V.",
        "name.givenName": "Adèle",
        "name.familyName": "Vance-Smith",
        "nickName": "Babs",
        f"{ENTERPRISE}:employeeNumber": "00042",
        f"{ENTERPRISE}:department": "Retail",
    }
    if shape == "legacy":
        # One operation per attribute, each with its path; Add for the new ones.
        operations = [
            op(shape, "add" if key in ("nickName",) else "replace", key, value)
            for key, value in simple.items()
        ]
    else:
        # The flag merges the single-valued ones into one path-less replace.
        operations = [op(shape, "replace", None, simple)]
    return [*operations, op(shape, "replace", WORK_EMAIL, mail)]


@pytest.mark.parametrize("shape", SHAPES)
def test_several_attributes_replaced(acme: httpx.Client, shape: str) -> None:
    user = acme.post("/Users", json=entra_user("s@contoso.com")).json()

    send(acme, shape, f"/Users/{user['id']}", *_several_replaces(shape, "S2@c.com"))

    after = stored(acme, user["id"])
    assert after["displayName"] == "Adele V."
    assert after["name"] == {
        "formatted": "Adele Vance",
        "givenName": "Adèle",
        "familyName": "Vance-Smith",
    }
    assert after["nickName"] == "Babs"
    assert after[ENTERPRISE] == {"employeeNumber": "00042", "department": "Retail"}
    assert after["emails"] == [{"primary": True, "type": "work", "value": "S2@c.com"}]


def test_both_shapes_store_the_same_document(acme: httpx.Client) -> None:
    results = []
    for shape in SHAPES:
        user = acme.post("/Users", json=entra_user(f"{shape}@contoso.com", shape))
        uid = user.json()["id"]
        send(acme, shape, f"/Users/{uid}", *_several_replaces(shape, "x@c.com"))
        doc = stored(acme, uid)
        for key in ("id", "userName", "externalId"):
            doc.pop(key)
        results.append(doc)

    assert results[0] == results[1]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("verb", ["add", "replace"])
def test_value_path_creates_the_missing_element(
    acme: httpx.Client, shape: str, verb: str
) -> None:
    uid = acme.post("/Users", json={"userName": "bare@contoso.com"}).json()["id"]

    send(
        acme,
        shape,
        f"/Users/{uid}",
        op(shape, verb, WORK_EMAIL, "Bare@Contoso.com"),
        op(shape, verb, MOBILE, "+1 425 555 0100"),
        op(shape, verb, 'addresses[type eq "work"].formatted', "18/2111"),
    )

    after = stored(acme, uid)
    assert after["emails"] == [{"type": "work", "value": "Bare@Contoso.com"}]
    assert after["phoneNumbers"] == [{"type": "mobile", "value": "+1 425 555 0100"}]
    assert after["addresses"] == [{"type": "work", "formatted": "18/2111"}]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "sent",
    [
        "{id}",
        {"value": "{id}"},
        [{"value": "{id}"}],
        [{"$ref": "../Users/{id}", "value": "{id}"}],
    ],
    ids=["bare id", "object", "list", "list with $ref"],
)
def test_manager_set_changed_and_cleared(
    acme: httpx.Client, shape: str, sent: Any
) -> None:
    boss = acme.post("/Users", json=entra_user("boss@contoso.com")).json()["id"]
    other = acme.post("/Users", json=entra_user("other@contoso.com")).json()["id"]
    uid = acme.post("/Users", json=entra_user("m@contoso.com")).json()["id"]
    path = f"{ENTERPRISE}:manager"

    def shaped(manager_id: str) -> Any:
        if isinstance(sent, str):
            return manager_id
        if isinstance(sent, dict):
            return {"value": manager_id}
        return [{k: v.format(id=manager_id) for k, v in sent[0].items()}]

    added = send(acme, shape, f"/Users/{uid}", op(shape, "add", path, shaped(boss)))
    changed = send(
        acme, shape, f"/Users/{uid}", op(shape, "replace", path, shaped(other))
    )
    # Microsoft's validator clears with an empty Replace; the flag sends Remove.
    clear = (
        op(shape, "replace", path, "")
        if shape == "legacy"
        else op(shape, "remove", path)
    )
    cleared = send(acme, shape, f"/Users/{uid}", clear)

    # Returned as a complex value inside the extension (Budibase#15369).
    assert added[ENTERPRISE]["manager"] == {"value": boss}
    assert changed[ENTERPRISE]["manager"] == {"value": other}
    assert stored(acme, uid).get(ENTERPRISE, {}).get("manager") is None
    assert "manager" not in cleared.get(ENTERPRISE, {})


@pytest.mark.parametrize("shape", SHAPES)
def test_group_members_added_and_one_removed(acme: httpx.Client, shape: str) -> None:
    ids = [
        acme.post("/Users", json=entra_user(f"g{n}@contoso.com")).json()["id"]
        for n in range(3)
    ]
    group = acme.post(
        "/Groups",
        json={
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
            ],
            "externalId": "grp-object-id",
            "displayName": "Ward 3",
            "members": [],
        },
    ).json()
    url = f"/Groups/{group['id']}"
    members = [{"$ref": None, "value": uid} for uid in ids]

    send(acme, shape, url, op(shape, "add", "members", members))
    if shape == "legacy":
        # Without the flag: Remove on `members` listing the ones to remove.
        removal = op(shape, "remove", "members", [{"value": ids[1]}])
    else:
        removal = op(shape, "remove", f'members[value eq "{ids[1]}"]')
    after = send(acme, shape, url, removal)

    assert [m["value"] for m in after["members"]] == [ids[0], ids[2]]
    excluded = acme.get(url, params={"excludedAttributes": "members"}).json()
    assert "members" not in excluded


@pytest.mark.parametrize("shape", SHAPES)
def test_resending_the_same_values_changes_nothing(
    any_db_service: Service, shape: str
) -> None:
    service = any_db_service
    service.organisation("acme")
    with service.client(service.token("acme")) as client:
        user = client.post("/Users", json=entra_user("same@contoso.com")).json()
        url = f"/Users/{user['id']}"
        send(client, shape, url, *_several_replaces(shape, "Same@c.com"))
        before = client.get(url).json()

        # The next incremental cycle finds what it sent and sends it again.
        again = send(client, shape, url, *_several_replaces(shape, "Same@c.com"))
        active = "True" if shape == "legacy" else True
        send(client, shape, url, op(shape, "replace", "active", active))

    events = service.store.audit_events("acme", resource_id=user["id"], limit=10)
    assert again == before
    assert before["meta"]["version"] == 'W/"2"'
    assert [e.action for e in events] == ["resource.patch", "resource.create"]


def test_attribute_names_in_any_case(acme: httpx.Client) -> None:
    # Capitalised names as in Microsoft's Postman collection (RFC 7643 2.1).
    created = acme.post(
        "/Users",
        json={
            "UserName": "Caps@Contoso.com",
            "Active": "true",
            "Name": {"GivenName": "Cap", "FamilyName": "Case"},
            "Emails": [{"Primary": True, "Type": "work", "Value": "Caps@Contoso.com"}],
            ENTERPRISE.upper(): {"Department": "Retail"},
        },
    )
    uid = created.json()["id"]
    patched = acme.patch(
        f"/Users/{uid}",
        json=patch(
            {"op": "Replace", "path": "Name.FamilyName", "value": "Cased"},
            {"op": "Replace", "path": f"{ENTERPRISE}:Department", "value": "ICU"},
        ),
    )
    found = acme.get(
        "/Users",
        params={
            "filter": 'USERNAME Eq "caps@contoso.com" and Name.GivenName EQ "cap"',
            "excludedAttributes": "EMAILS",
        },
    ).json()

    assert created.status_code == 201, created.text
    assert created.json()["active"] is True
    assert patched.json()["name"] == {"givenName": "Cap", "familyName": "Cased"}
    assert patched.json()[ENTERPRISE] == {"department": "ICU"}
    assert found["totalResults"] == 1
    assert set(found["Resources"][0]) >= {"userName", "name", ENTERPRISE}
    assert "emails" not in found["Resources"][0]


def test_mapped_values_are_echoed_exactly_as_sent(any_db_service: Service) -> None:
    service = any_db_service
    service.organisation("acme")
    sent = {
        "userName": "Mixed.Case@Contoso.COM",
        "externalId": "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF",
        "displayName": 'Élodie "Lo" Durand  ',
        "name": {"givenName": "Élodie", "familyName": "D'Urand"},
        "title": "Nurse\tlead",
        "emails": [
            {"primary": True, "type": "work", "value": "Mixed.Case@Contoso.COM"}
        ],
        "phoneNumbers": [{"type": "mobile", "value": "+1 (425) 555-0100"}],
        "addresses": [{"type": "work", "formatted": "18/2111\nBuilding 4"}],
        ENTERPRISE: {"employeeNumber": "000123", "department": "Retail "},
        "preferredLanguage": "fr-CA",
    }
    with service.client(service.token("acme")) as client:
        created = client.post("/Users", json=sent).json()
        got = client.get(f"/Users/{created['id']}").json()
        listed = client.get(
            "/Users", params={"filter": 'externalId eq "' + sent["externalId"] + '"'}
        ).json()

    for key, value in sent.items():
        assert created[key] == value, key
        assert got[key] == value, key
        assert listed["Resources"][0][key] == value, key
