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


@pytest.fixture(scope="module")
def served_emulator() -> Iterator[tuple[Emulator, str]]:
    """One server per test module; each test gets it reset to the seed."""
    emulator = Emulator(EmulatorConfig(concurrency=4), seed=SEED)
    with emulator.serve_in_thread() as url:
        yield emulator, url


@pytest.fixture
def emulator(served_emulator: tuple[Emulator, str]) -> Emulator:
    emulator = served_emulator[0]
    emulator.reset()
    emulator.config = EmulatorConfig(concurrency=4)
    return emulator


@pytest.fixture
def graph_url(served_emulator: tuple[Emulator, str], emulator: Emulator) -> str:
    return served_emulator[1]


@pytest.fixture(scope="module")
def served_scim() -> Iterator[tuple[RecordingScim, str]]:
    scim = RecordingScim()
    with serve(scim.app()) as url:
        yield scim, url + "/scim"


@pytest.fixture
def scim(served_scim: tuple[RecordingScim, str]) -> RecordingScim:
    served_scim[0].reset()
    return served_scim[0]


@pytest.fixture
def scim_url(served_scim: tuple[RecordingScim, str], scim: RecordingScim) -> str:
    return served_scim[1]
