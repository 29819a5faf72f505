"""Mapping targets are checked at validate time against what the SCIM service stores.

The engine's table (provisioning/_scim_targets.py) is compared with the service's
/Schemas, and every target form it accepts is applied and provisioned for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from provisioning import _scim_targets
from provisioning.cli import main
from scim_service.protocol import schema as service_schema

from .engine_support import ROOT, Graph, PromptService, example_for
from .engine_support import run_cli as run

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROMPT = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"
LAST_DEFAULT = "    externalId: objectId\n"


def with_targets(text: str, *rows: str) -> str:
    """The example's user_attributes with `rows` ("target: expression") added."""
    assert LAST_DEFAULT in text
    return text.replace(
        LAST_DEFAULT, LAST_DEFAULT + "".join(f"    {r}\n" for r in rows)
    )


def shape(attributes: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        a["name"]: (
            a["multiValued"],
            a["mutability"] == "readOnly",
            tuple(s["name"] for s in a.get("subAttributes", [])),
        )
        for a in attributes
    }


def table_shape(attributes: tuple[_scim_targets.Attribute, ...]) -> dict[str, Any]:
    return {a.name: (a.multi_valued, a.read_only, a.subs) for a in attributes}


def test_table_is_what_the_service_advertises_in_schemas(
    prompt_service: PromptService,
) -> None:
    base = prompt_service.scim_url
    user_type = httpx.get(f"{base}/ResourceTypes/User").json()
    advertised = httpx.get(f"{base}/Schemas").json()["Resources"]
    urns = [user_type["schema"], *(e["schema"] for e in user_type["schemaExtensions"])]

    assert urns == list(_scim_targets.SCHEMAS)
    by_urn = {s["id"]: s for s in advertised}
    for urn in urns:
        assert shape(by_urn[urn]["attributes"]) == table_shape(
            _scim_targets.SCHEMAS[urn]
        ), urn
    # id, externalId and meta are in every resource, not in /Schemas (RFC 7643 3.1).
    common = {
        a.name: (
            a.multi_valued,
            a.mutability == "readOnly",
            tuple(s.name for s in a.sub_attributes),
        )
        for a in service_schema.COMMON_ATTRIBUTES
    }
    assert common == table_shape(_scim_targets.COMMON)


ACCEPTED = [
    "userName",
    "USERNAME",
    "title",
    "name.givenName",
    "Name.GivenName",
    'emails[type eq "work"].value',
    'emails[type eq "work"]',
    'phoneNumbers[type eq "mobile"].value',
    'addresses[type eq "work"].streetAddress',
    "externalId",
    "roles",
    f"{ENTERPRISE}:department",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:manager.value",
    f"{PROMPT}:department",
    f"{PROMPT.upper()}:Section",
    "urn:ietf:params:scim:schemas:core:2.0:User:nickName",
]


@pytest.mark.parametrize("target", ACCEPTED)
def test_known_target_is_accepted(target: str) -> None:
    assert _scim_targets.target_problem(target) is None


REFUSED = [
    ("favouriteColour", "'favouriteColour' is not an attribute of the core User"),
    ("dispalyName", "did you mean displayName?"),
    ("name.givenNme", "did you mean name.givenName?"),
    (
        "department",
        f"not a core User attribute; extension attributes are written with their "
        f"schema URN: {ENTERPRISE}:department",
    ),
    ("department", f"or {PROMPT}:department (the Prompt department"),
    ("manager", f"{ENTERPRISE}:manager"),
    (f"{ENTERPRISE}:departmnet", f"did you mean {ENTERPRISE}:department"),
    (f"{PROMPT}:division", f"did you mean {PROMPT}:section"),
    ("urn:example:User:department", "'urn:example:User' is not a User schema"),
    ("emails.value", 'select one value with a value path, e.g. emails[type eq "work"]'),
    ('addresses[type eq "work"]', "addresses has no value of its own"),
    ('title[type eq "work"]', "title is single-valued"),
    ('emails[type ne "work"].value', "value paths compare with eq"),
    ("name", "name is complex: map its sub-attributes"),
    ("id", "read-only"),
    ("meta.lastModified", "read-only"),
]


@pytest.mark.parametrize(("target", "message"), REFUSED)
def test_unknown_target_fails_validate_with_file_line_key_and_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    text = (ROOT / "organisations" / "example.yaml").read_text()
    path = tmp_path / "org.yaml"
    path.write_text(with_targets(text, f"'{target}': department"))
    line = text[: text.index(LAST_DEFAULT)].count("\n") + 2

    assert main(["validate", str(path)]) == 1

    err = capsys.readouterr().err
    assert f"{path}:{line}: provisioning.user_attributes.{target}: SCIM target: " in err
    assert message in err


def test_same_attribute_in_two_spellings_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "organisations" / "example.yaml").read_text()
    path = tmp_path / "org.yaml"
    path.write_text(with_targets(text, "DisplayName: mail"))

    assert main(["validate", str(path)]) == 1

    assert "maps the same SCIM attribute as 'displayName'" in capsys.readouterr().err


def test_unknown_target_stops_apply_before_any_graph_write(
    graph: Graph, prompt_service: PromptService, tmp_path: Path
) -> None:
    path = example_for(tmp_path, prompt_service)
    path.write_text(with_targets(path.read_text(), "favouriteColour: department"))

    assert run(graph, "apply", str(path)) == 1

    assert graph.emulator.state()["applications"] == []
    assert prompt_service.store.list_organisations() == []


def test_accepted_forms_reach_prompt_in_a_provisioning_cycle(
    graph: Graph, prompt_service: PromptService, tmp_path: Path
) -> None:
    path = example_for(tmp_path, prompt_service)
    path.write_text(
        with_targets(
            path.read_text(),
            "title: '\"Nurse\"'",
            "'phoneNumbers[type eq \"mobile\"].value': '\"+44 7700 900000\"'",
            "'addresses[type eq \"work\"].streetAddress': '\"1 Main St\"'",
            f"'{ENTERPRISE}:department': '\"Cardiology (label)\"'",
            f"'{ENTERPRISE}:employeeNumber': '\"E42\"'",
            f"'{PROMPT}:department': '\"Cardiology\"'",
            f"'{PROMPT.upper()}:Section': '\"Ward 9\"'",
        )
    )
    assert run(graph, "apply", str(path)) == 0
    (job_id,) = graph.emulator.jobs

    cycle = graph.emulator.cycle(job_id)

    assert (cycle["failed"], cycle["created"]) == (0, 2), cycle
    org = prompt_service.store.get_organisation("example")
    (alice,) = prompt_service.store.find_resources(
        org.id, "User", user_name="alice@example.org"
    )
    doc = alice.doc
    assert doc["title"] == "Nurse"
    assert doc["phoneNumbers"][0]["value"] == "+44 7700 900000"
    assert doc["addresses"][0]["streetAddress"] == "1 Main St"
    assert doc[ENTERPRISE] == {
        "department": "Cardiology (label)",
        "employeeNumber": "E42",
    }
    assert doc[PROMPT] == {"department": "Cardiology", "section": "Ward 9"}
