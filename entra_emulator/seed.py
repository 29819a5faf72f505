"""Tenant seed files: load the YAML directory, and generate a sample tenant for demos.

Format (all keys of a user are Graph user property names; only userPrincipalName
is required; `softDeleted: true` puts the user in the recycle bin):

    users:
      - userPrincipalName: ada.lovelace@contoso.example
        displayName: Ada Lovelace
        givenName: Ada
        surname: Lovelace
        mail: ada.lovelace@contoso.example
        department: Engineering
        jobTitle: Engineer
        employeeId: "100001"
        accountEnabled: true
    groups:
      - displayName: Engineering
        members: [ada.lovelace@contoso.example]   # UPNs, user ids, group names or ids
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from .directory import Directory
from .errors import EmulatorError, SeedFileInvalid

_FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Donald",
    "Sophie",
    "Niklaus",
    "Anita",
    "Bjarne",
    "Lena",
    "Omar",
    "Priya",
    "Mateo",
    "Yuki",
    "Noor",
    "Kofi",
    "Ines",
]
_LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners",
    "Lamarr",
    "Backus",
    "Johnson",
    "Knuth",
    "Wilson",
    "Wirth",
    "Borg",
    "Stroustrup",
    "Meyer",
    "Haddad",
    "Rao",
    "Garcia",
    "Sato",
    "Khan",
    "Mensah",
    "Duarte",
]
_DEPARTMENTS = ["Engineering", "Sales", "Finance", "Support", "Marketing", "Operations"]
_TITLES = ["Engineer", "Analyst", "Manager", "Specialist", "Consultant", "Director"]


def load_seed_file(path: Path) -> dict[str, Any]:
    """Read and check a seed file; raise SeedFileInvalid naming the problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SeedFileInvalid(f"Cannot read seed file {path}: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"users", "groups"}:
        raise SeedFileInvalid(
            f"Seed file {path} must be a mapping with users: and groups:."
        )
    for key in ("users", "groups"):
        if not isinstance(data.get(key, []), list):
            raise SeedFileInvalid(f"Seed file {path}: {key} must be a list.")
    check = Directory()
    try:
        load_into(check, data)
    except EmulatorError as exc:
        raise SeedFileInvalid(f"Seed file {path}: {exc}") from exc
    return data


def load_into(directory: Directory, data: dict[str, Any]) -> None:
    """Add the seed's users and then its groups to a directory."""
    for entry in data.get("users") or []:
        if not isinstance(entry, dict):
            raise SeedFileInvalid(f"A user entry must be a mapping, got {entry!r}.")
        props = dict(entry)
        soft_deleted = bool(props.pop("softDeleted", False))
        user = directory.add_user(props)
        user.soft_deleted = soft_deleted
    for entry in data.get("groups") or []:
        if not isinstance(entry, dict) or "displayName" not in entry:
            raise SeedFileInvalid(f"A group entry needs a displayName, got {entry!r}.")
        group = directory.add_group(
            str(entry["displayName"]), [], group_id=entry.get("id")
        )
        group.description = entry.get("description")
    for entry in data.get("groups") or []:
        for member in entry.get("members") or []:
            directory.add_member(
                str(entry.get("id") or entry["displayName"]), str(member)
            )


def generate_tenant(
    users: int = 300,
    groups: int = 5,
    *,
    domain: str = "contoso.example",
    disabled: int = 0,
    random_seed: int = 7,
) -> dict[str, Any]:
    """Return a seed dict with deterministic people spread over `groups` groups.

    Group i is named after a department; user n is a member of group n mod groups.
    The last `disabled` users have accountEnabled false.
    """
    rng = random.Random(random_seed)
    people: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index in range(users):
        given, family = rng.choice(_FIRST), rng.choice(_LAST)
        nickname = f"{given}.{family}".lower()
        if nickname in seen:
            nickname = f"{nickname}{index}"
        seen.add(nickname)
        upn = f"{nickname}@{domain}"
        people.append(
            {
                "userPrincipalName": upn,
                "displayName": f"{given} {family}",
                "givenName": given,
                "surname": family,
                "mail": upn,
                "department": _DEPARTMENTS[index % len(_DEPARTMENTS)],
                "jobTitle": rng.choice(_TITLES),
                "employeeId": f"{100001 + index}",
                "accountEnabled": index < users - disabled,
            }
        )
    names = [
        _DEPARTMENTS[i % len(_DEPARTMENTS)] + ("" if i < 6 else f" {i}")
        for i in range(groups)
    ]
    group_list = [
        {
            "displayName": name,
            "members": [
                p["userPrincipalName"] for n, p in enumerate(people) if n % groups == i
            ],
        }
        for i, name in enumerate(names)
    ]
    return {"users": people, "groups": group_list}


def dump_seed(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
