"""The demo's sample Entra tenant: a hospital's staff, as an emulator seed file.

Fits organisations/example.yaml, which assigns alice@example.org directly and the
group "Prompt Users": the group's enabled direct members and Alice are provisioned;
disabled members, members of a nested group and everyone else are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DOMAIN = "example.org"
ASSIGNED_GROUP = "Prompt Users"
NESTED_GROUP = "Agency Staff"
OTHER_GROUP = "Finance"

_GIVEN = [
    "Amara",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hamza",
    "Ingrid",
    "Jonas",
    "Keiko",
    "Luca",
    "Maya",
    "Nils",
    "Olivia",
    "Pedro",
    "Quinn",
    "Rosa",
    "Samir",
    "Tove",
    "Umar",
    "Vera",
    "Wanda",
    "Xavier",
    "Yara",
    "Zoltan",
    "Aiko",
    "Ben",
    "Carmen",
    "Dario",
]
_FAMILY = [
    "Achebe",
    "Brandt",
    "Costa",
    "Duval",
    "Eriksen",
    "Fischer",
    "Garza",
    "Horvat",
    "Ibsen",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quist",
    "Rossi",
    "Santos",
    "Tanaka",
    "Ulrich",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhou",
    "Abbott",
    "Berg",
    "Castillo",
    "Dalton",
]
_TITLES = ("Staff Nurse", "Charge Nurse", "Physician", "Ward Clerk", "Pharmacist")
_DEPARTMENTS = ("Cardiology", "Oncology", "Emergency", "Paediatrics", "Radiology")


@dataclass(frozen=True)
class Tenant:
    """The seed and what the demo expects of it."""

    seed: dict[str, Any]
    provisioned: list[str]  # UPNs the first cycle must create
    members: list[str]  # UPNs of the assigned group's enabled members

    def write(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump(self.seed, sort_keys=False), encoding="utf-8")
        return path

    @property
    def user_count(self) -> int:
        return len(self.seed["users"])

    @property
    def group_count(self) -> int:
        return len(self.seed["groups"])


def _person(index: int) -> dict[str, Any]:
    given = _GIVEN[index % len(_GIVEN)]
    family = _FAMILY[(index * 7 + index // len(_GIVEN)) % len(_FAMILY)]
    upn = f"{given}.{family}@{DOMAIN}".lower()
    return {
        "userPrincipalName": upn,
        "displayName": f"{given} {family}",
        "givenName": given,
        "surname": family,
        "mail": upn,
        "department": _DEPARTMENTS[index % len(_DEPARTMENTS)],
        "jobTitle": _TITLES[index % len(_TITLES)],
        "employeeId": f"{200000 + index}",
        "accountEnabled": True,
    }


def sample_tenant(
    members: int = 260, disabled: int = 4, nested: int = 20, others: int = 20
) -> Tenant:
    """Alice, `members` people in Prompt Users (the last `disabled` of them
    disabled), `nested` in a group nested in it and `others` in an unassigned group.
    """
    alice: dict[str, Any] = {
        "userPrincipalName": f"alice@{DOMAIN}",
        "displayName": "Alice Adams",
        "givenName": "Alice",
        "surname": "Adams",
        "mail": f"alice@{DOMAIN}",
        "department": "Emergency",
        "jobTitle": "Consultant",
        "employeeId": "199999",
        "accountEnabled": True,
    }
    people = [_person(i) for i in range(members + nested + others)]
    upns = [p["userPrincipalName"] for p in people]
    assert len(set(upns)) == len(upns), "sample tenant names must be unique"
    for person in people[members - disabled : members]:
        person["accountEnabled"] = False

    in_group = upns[:members]
    groups = [
        {"displayName": NESTED_GROUP, "members": upns[members : members + nested]},
        {"displayName": ASSIGNED_GROUP, "members": [*in_group, NESTED_GROUP]},
        {"displayName": OTHER_GROUP, "members": upns[members + nested :]},
    ]
    enabled = in_group[: members - disabled]
    return Tenant(
        seed={"users": [alice, *people], "groups": groups},
        provisioned=sorted([alice["userPrincipalName"], *enabled]),
        members=enabled,
    )
