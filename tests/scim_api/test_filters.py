"""RFC 7644 3.4.2.2 filters over HTTP, on SQLite and PostgreSQL.

The store answers index-backed terms (id, userName, externalId, displayName)
and the protocol layer the rest; both paths must give the same matches.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.scim_api._server import Service
from tests.scim_api.test_entra import ENTERPRISE

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def people(client: httpx.Client) -> dict[str, str]:
    """Create three users; return their ids by a short name."""
    bodies = {
        "adele": {
            "userName": "Adele.Vance@Contoso.com",
            "externalId": "Obj-A",
            "displayName": 'Adele "AV" Vance',
            "title": "Retail Manager",
            "active": True,
            "name": {"givenName": "Adele", "familyName": "Vance"},
            "emails": [
                {"type": "work", "value": "Adele.Vance@contoso.com", "primary": True},
                {"type": "home", "value": "adele@example.org"},
            ],
            ENTERPRISE: {"department": "Retail", "employeeNumber": "E-1"},
        },
        "bob": {
            "userName": "Bob@Contoso.com",
            "externalId": "obj-a",
            "displayName": "Bob",
            "active": "False",
            "emails": [{"type": "work", "value": "bob@contoso.com"}],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}],
            ENTERPRISE: {"department": "ICU"},
        },
        "carol": {
            "userName": "Carol@Fabrikam.com",
            "externalId": "Obj-C",
            "displayName": "back\\slash",
            "nickName": "C",
        },
    }
    ids = {}
    for name, body in bodies.items():
        response = client.post("/Users", json=body)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    return ids


def user_cases(ids: dict[str, str]) -> list[tuple[str, set[str]]]:
    return [
        ('userName eq "adele.vance@CONTOSO.com"', {"adele"}),
        ('externalId eq "Obj-A"', {"adele"}),
        ('externalId eq "obj-a"', {"bob"}),
        ('externalId eq "OBJ-A"', set()),
        (f'id eq "{ids["bob"]}"', {"bob"}),
        ('USERNAME EQ "carol@fabrikam.com"', {"carol"}),
        ('userName eq "nobody" or userName eq "bob@contoso.com"', {"bob"}),
        ('externalId eq "Obj-A" and userName eq "bob@contoso.com"', set()),
        ('not (userName ew "contoso.com")', {"carol"}),
        ('userName co "@contoso" and not (active eq false)', {"adele"}),
        ('(title pr or nickName pr) and displayName ne "Bob"', {"adele", "carol"}),
        ('userName gt "b" and userName lt "c"', {"bob"}),
        ("active eq false", {"bob"}),
        ("title eq null", {"bob", "carol"}),
        ('name.familyName eq "vance"', {"adele"}),
        ('emails[type eq "work" and value co "vance"]', {"adele"}),
        ('emails[type eq "home"].value ew ".ORG"', {"adele"}),
        ('emails.value sw "BOB"', {"bob"}),
        ('phoneNumbers[type eq "mobile"].value pr', {"bob"}),
        ('userName eq "adele.vance@contoso.com" and emails[type eq "home"]', {"adele"}),
        (f'{ENTERPRISE}:department eq "retail"', {"adele"}),
        (f"{ENTERPRISE}:employeeNumber pr", {"adele"}),
        (f'{CORE}:userName sw "carol"', {"carol"}),
        (f'{CORE}:externalId eq "Obj-C"', {"carol"}),
        ('displayName eq "Adele \\"AV\\" Vance"', {"adele"}),
        ('displayName eq "back\\\\slash"', {"carol"}),
        ('displayName co "\\"AV\\""', {"adele"}),
        ('meta.created ge "2000-01-01T00:00:00Z" and userName sw "bob"', {"bob"}),
        ('meta.resourceType eq "Group"', set()),
    ]


def test_user_filters_on_every_database(any_db_service: Service) -> None:
    service = any_db_service
    service.organisation("acme")
    with service.client(service.token("acme")) as client:
        ids = people(client)
        names = {uid: name for name, uid in ids.items()}
        wrong = []
        for text, expected in user_cases(ids):
            response = client.get("/Users", params={"filter": text})
            body: dict[str, Any] = response.json()
            found = {names[r["id"]] for r in body.get("Resources", [])}
            if response.status_code != 200 or found != expected:
                wrong.append(f"{text}: {response.status_code} {found or body}")
            elif body["totalResults"] != len(expected):
                wrong.append(f"{text}: totalResults {body['totalResults']}")

    assert wrong == []


def test_manager_and_group_member_filters(any_db_service: Service) -> None:
    service = any_db_service
    service.organisation("acme")
    with service.client(service.token("acme")) as client:
        boss = client.post("/Users", json={"userName": "boss"}).json()["id"]
        worker = client.post(
            "/Users", json={"userName": "worker", ENTERPRISE: {"manager": boss}}
        ).json()["id"]
        group = client.post(
            "/Groups",
            json={"displayName": "Ward 3 Nurses", "members": [{"value": worker}]},
        ).json()["id"]

        def matches(path: str, text: str) -> list[str]:
            response = client.get(path, params={"filter": text})
            assert response.status_code == 200, response.text
            return [r["id"] for r in response.json()["Resources"]]

        # Entra's legacy reference check: id eq ... and manager eq ...
        reference = f'id eq "{worker}" and manager eq "{boss}"'
        assert matches("/Users", reference) == [worker]
        assert matches("/Users", f'{ENTERPRISE}:manager.value eq "{boss}"') == [worker]
        assert matches("/Groups", 'displayName eq "ward 3 NURSES"') == [group]
        assert matches("/Groups", f'members[value eq "{worker}"]') == [group]
        assert matches("/Groups", f'members.value eq "{boss}"') == []


def test_filtered_pages_are_stable(acme: httpx.Client) -> None:
    ids = people(acme)

    pages = [
        acme.get(
            "/Users",
            params={"filter": "userName pr", "startIndex": start, "count": 2},
        ).json()
        for start in (1, 3)
    ]
    search = acme.post(
        "/Users/.search",
        json={"filter": 'emails[type eq "work"]', "startIndex": 2, "count": 1},
    ).json()

    assert [r["id"] for page in pages for r in page["Resources"]] == list(ids.values())
    assert [p["totalResults"] for p in pages] == [3, 3]
    assert [p["startIndex"] for p in pages] == [1, 3]
    assert search["totalResults"] == 2
    assert [r["id"] for r in search["Resources"]] == [ids["bob"]]


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "x" or nosuch eq "y"',
        'emails[type eq "work"',
        'emails[type eq "work"].nosuch eq "x"',
        "userName eq unquoted",
        'displayName eq "unterminated \\"',
        'not userName eq "x"',
        "active gt true",
        'name eq "x"',
    ],
)
def test_malformed_or_unknown_filters_are_400_invalid_filter(
    acme: httpx.Client, text: str
) -> None:
    response = acme.get("/Users", params={"filter": text})

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
    assert response.json()["status"] == "400"
