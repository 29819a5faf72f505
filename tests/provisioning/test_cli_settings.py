"""Settings other than the seed's defaults reach Entra, and stay idempotent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scim_service.storage import Actor

from .engine_support import Graph, PromptService, example_for
from .engine_support import run_cli as run

State = dict[str, Any]


def _mappings(state: State, source: str) -> dict[str, Any]:
    (job,) = state["jobs"]
    rule = job["schema"]["synchronizationRules"][0]
    (mapping,) = [m for m in rule["objectMappings"] if m["sourceObjectName"] == source]
    return dict(mapping)


def _sync_all(graph: Graph, state: State) -> str:
    (sp,) = state["servicePrincipals"]
    return graph.emulator.secret_values(sp["id"])["SyncAll"]


def _targets(state: State) -> dict[str, Any]:
    users = _mappings(state, "User")["attributeMappings"]
    return {m["targetAttributeName"]: m for m in users}


Check = Callable[[Graph, State], bool]
VARIANTS: list[tuple[str, str, str, Check]] = [
    (
        "scope all",
        "scope: assigned",
        "scope: all",
        lambda graph, state: _sync_all(graph, state) == "true",
    ),
    (
        "groups mapping on",
        "groups: false",
        "groups: true",
        lambda graph, state: _mappings(state, "Group")["enabled"] is True,
    ),
    (
        "provisioning off",
        "enabled: true ",
        "enabled: false",
        lambda graph, state: state["jobs"][0]["schedule"]["state"] != "Active",
    ),
    (
        "an extra attribute",
        "    externalId: objectId\n",
        "    externalId: objectId\n    title: jobTitle\n",
        lambda graph, state: (
            _targets(state)["title"]["source"]["expression"] == "[jobTitle]"
        ),
    ),
    (
        "matching on externalId",
        "matching: userName",
        "matching: externalId",
        lambda graph, state: (
            [t for t, m in _targets(state).items() if m["matchingPriority"] == 1]
            == ["externalId"]
        ),
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "check"),
    [pytest.param(old, new, check, id=name) for name, old, new, check in VARIANTS],
)
def test_setting_is_applied_and_a_second_apply_writes_nothing(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    old: str,
    new: str,
    check: Check,
) -> None:
    org_file = example_for(tmp_path, prompt_service)
    text = org_file.read_text()
    assert old in text
    org_file.write_text(text.replace(old, new, 1))

    assert run(graph, "apply", str(org_file)) == 0

    assert check(graph, graph.emulator.state())
    graph.emulator.reset_writes()
    assert run(graph, "apply", str(org_file)) == 0
    assert run(graph, "plan", "--detailed-exitcode", str(org_file)) == 0
    assert graph.emulator.writes()["total"] == 0


def test_prompt_side_edited_by_hand_is_planned_and_reverted(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org_file = example_for(tmp_path, prompt_service)
    assert run(graph, "apply", str(org_file)) == 0
    prompt_service.store.update_organisation(
        "example",
        actor=Actor(kind="cli"),
        default_department="Theatre",
        provisioning_enabled=False,
    )
    capsys.readouterr()

    assert run(graph, "plan", "--detailed-exitcode", str(org_file)) == 2
    out = capsys.readouterr().out
    assert "default_department: Theatre -> Nursing" in out
    assert "provisioning_enabled: false -> true" in out
    assert run(graph, "apply", str(org_file)) == 0

    organisation = prompt_service.store.get_organisation("example")
    assert organisation.default_department == "Nursing"
    assert organisation.provisioning_enabled is True
    assert run(graph, "plan", "--detailed-exitcode", str(org_file)) == 0
