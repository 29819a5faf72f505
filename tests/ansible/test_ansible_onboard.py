"""onboard.yml on 20 organisations against the Entra emulator and the SCIM service.

One landscape per module: the first run onboards every organisation; the other
tests run the playbook again on that state (idempotence, check mode, drift).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .ansible_support import Landscape, Run, landscape

pytestmark = pytest.mark.slow

COUNT = 20
SLUGS = [f"org-{n:02d}" for n in range(COUNT)]
GROUP_OBJECT = "Group"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landscape]:
    with landscape(tmp_path_factory.mktemp("fleet")) as land:
        for slug in SLUGS:
            land.add_organisation(slug)
        yield land


@pytest.fixture(scope="module")
def first_run(fleet: Landscape) -> Run:
    return fleet.playbook("onboard.yml", "--forks", str(COUNT))


def service_principal(fleet: Landscape, slug: str) -> dict[str, Any]:
    marker = f"prompt-provisioning:{slug}"
    (sp,) = [
        sp
        for sp in fleet.emulator.state()["servicePrincipals"]
        if marker in (sp.get("tags") or [])
    ]
    return dict(sp)


def job_of(fleet: Landscape, sp_id: str) -> dict[str, Any]:
    (job,) = [
        job
        for job in fleet.emulator.state()["jobs"]
        if job["servicePrincipalId"] == sp_id
    ]
    return dict(job)


def object_mapping(schema: dict[str, Any], source: str) -> dict[str, Any]:
    for rule in schema["synchronizationRules"]:
        for mapping in rule["objectMappings"]:
            if mapping["sourceObjectName"] == source:
                return dict(mapping)
    raise AssertionError(f"no {source} object mapping")


def test_onboarding_configures_every_organisation(
    fleet: Landscape, first_run: Run
) -> None:
    assert first_run.returncode == 0, first_run.explain()
    assert set(first_run.recap) == set(SLUGS)
    for slug, counters in first_run.recap.items():
        assert counters["failed"] == 0, slug
        assert counters["changed"] >= 1, slug
    assert f"onboard: {COUNT} organisation(s), {COUNT} changed, 0 failed" in (
        first_run.stdout
    )

    for slug in SLUGS:
        sp = service_principal(fleet, slug)
        job = job_of(fleet, sp["id"])
        assert job["schedule"]["state"] == "Active", slug
        assert object_mapping(job["schema"], GROUP_OBJECT)["enabled"] is False
        secrets = fleet.emulator.secret_values(sp["id"])
        assert secrets["BaseAddress"] == fleet.scim_url
        assert secrets["SyncAll"].lower() == "false"
        assigned = [
            a
            for a in fleet.emulator.state()["assignments"]
            if a["resourceId"] == sp["id"]
        ]
        assert len(assigned) == 2, slug

        organisation = fleet.store.get_organisation(slug)
        assert organisation.provisioning_enabled
        assert organisation.tenant_id is not None
        live = [t for t in fleet.store.list_tokens(slug) if t.revoked is None]
        assert len(live) == 1, slug


def test_second_run_changes_nothing(fleet: Landscape, first_run: Run) -> None:
    writes = fleet.emulator.writes()["total"]
    events = len(fleet.store.audit_events(limit=10_000))

    run = fleet.playbook("onboard.yml", "--forks", str(COUNT))

    assert run.returncode == 0, run.explain()
    assert set(run.recap) == set(SLUGS)
    assert all(c["changed"] == 0 for c in run.recap.values()), run.recap
    assert fleet.emulator.writes()["total"] == writes
    assert len(fleet.store.audit_events(limit=10_000)) == events


def test_check_mode_writes_nothing(fleet: Landscape, first_run: Run) -> None:
    path = fleet.add_organisation("newcomer")
    writes = fleet.emulator.writes()["total"]
    events = len(fleet.store.audit_events(limit=10_000))
    try:
        run = fleet.playbook("onboard.yml", "--check", "--forks", str(COUNT))
    finally:
        path.unlink()

    assert run.returncode == 0, run.explain()
    assert run.recap["newcomer"]["changed"] == 1
    assert all(run.recap[slug]["changed"] == 0 for slug in SLUGS)
    assert "would apply" in run.stdout
    assert fleet.emulator.writes()["total"] == writes
    assert [o.slug for o in fleet.store.list_organisations()].count("newcomer") == 0
    assert len(fleet.store.audit_events(limit=10_000)) == events


def test_check_diff_shows_hand_made_drift(fleet: Landscape, first_run: Run) -> None:
    drift_groups, drift_user = "org-03", "org-04"
    with httpx.Client(base_url=fleet.graph_url) as graph:
        sp = service_principal(fleet, drift_groups)
        job_id = job_of(fleet, sp["id"])["id"]
        url = f"/servicePrincipals/{sp['id']}/synchronization/jobs/{job_id}/schema"
        schema = graph.get(url).raise_for_status().json()
        for rule in schema["synchronizationRules"]:
            for mapping in rule["objectMappings"]:
                if mapping["sourceObjectName"] == GROUP_OBJECT:
                    mapping["enabled"] = True
        graph.put(url, json=schema).raise_for_status()

        sp = service_principal(fleet, drift_user)
        url = f"/servicePrincipals/{sp['id']}/appRoleAssignedTo"
        assignment = graph.get(url).raise_for_status().json()["value"][0]
        graph.delete(f"{url}/{assignment['id']}").raise_for_status()
    writes = fleet.emulator.writes()["total"]

    control = "org-05"
    check = fleet.playbook(
        "onboard.yml",
        "--check",
        "--diff",
        "--limit",
        f"{drift_groups},{drift_user},{control}",
    )

    assert check.returncode == 0, check.explain()
    assert check.recap[drift_groups]["changed"] == 1
    assert check.recap[drift_user]["changed"] == 1
    assert check.recap[control]["changed"] == 0
    assert "Groups object mapping is enabled" in check.stdout
    assert "Groups object mapping is disabled" in check.stdout
    upn = f"{assignment['principalDisplayName'].lower()}@{drift_user}.example"
    assert f" assignments: user {upn}\n-  (absent)\n+  app role User" in check.stdout
    assert fleet.emulator.writes()["total"] == writes

    drifted = f"{drift_groups},{drift_user}"
    repair = fleet.playbook("onboard.yml", "--limit", drifted)
    again = fleet.playbook("onboard.yml", "--check", "--diff", "--limit", drifted)

    assert repair.returncode == 0, repair.explain()
    assert repair.recap[drift_groups]["changed"] == 1
    assert repair.recap[drift_user]["changed"] == 1
    assert all(c["changed"] == 0 for c in again.recap.values()), again.explain()
