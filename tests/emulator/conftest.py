"""Fixtures: an emulator served on loopback, a recording SCIM service, an SDK client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from entra_emulator import Emulator, EmulatorConfig

from .scim_recorder import RecordingScim, serve

DOMAIN = "contoso.example"


def person(nick: str, **extra: Any) -> dict[str, Any]:
    given, _, family = nick.partition(".")
    return {
        "userPrincipalName": f"{nick}@{DOMAIN}",
        "displayName": f"{given.title()} {family.title()}",
        "givenName": given.title(),
        "surname": family.title(),
        "mail": f"{nick}@{DOMAIN}",
        "department": "Sales",
        "jobTitle": "Engineer",
        "employeeId": str(abs(hash(nick)) % 100000),
        **extra,
    }


SEED: dict[str, Any] = {
    "users": [
        person("ada.lovelace"),
        person("alan.turing"),
        person("grace.hopper", accountEnabled=False),
        person("linus.torvalds"),
        person("radia.perlman"),
        person("ken.thompson"),
    ],
    "groups": [
        {
            "displayName": "Sales",
            "members": [f"linus.torvalds@{DOMAIN}", f"grace.hopper@{DOMAIN}"],
        },
        {"displayName": "Inner", "members": [f"ken.thompson@{DOMAIN}"]},
        {"displayName": "Outer", "members": ["Inner"]},
    ],
}


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(EmulatorConfig(concurrency=4), seed=SEED)


@pytest.fixture
def graph_url(emulator: Emulator) -> Iterator[str]:
    with emulator.serve_in_thread() as url:
        yield url


@pytest.fixture
def scim() -> RecordingScim:
    return RecordingScim()


@pytest.fixture
def scim_url(scim: RecordingScim) -> Iterator[str]:
    with serve(scim.app()) as url:
        yield url + "/scim"
