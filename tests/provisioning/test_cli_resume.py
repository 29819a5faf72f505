"""An apply interrupted at any write resumes on the next apply, without duplicates.

Each Graph write of a first apply fails once: either before Graph carries it out,
or after (the write happened, its answer was lost on the way back).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .engine_support import Graph, PromptService, example_for
from .engine_support import run_cli as run

SP = "/servicePrincipals/*"
JOB = f"{SP}/synchronization/jobs/*"

# The writes of a first apply of organisations/example.yaml, in order; `skip`
# picks the n-th request to the same route (tags are patched twice on the SP).
WRITES = [
    ("instantiate", "POST", "/applicationTemplates/*/instantiate", 0),
    ("marker tag on the service principal", "PATCH", SP, 0),
    ("marker tag on the application", "PATCH", "/applications/*", 0),
    ("job creation", "POST", f"{SP}/synchronization/jobs", 0),
    ("Test Connection", "POST", f"{JOB}/validateCredentials", 0),
    ("secrets", "PUT", f"{SP}/synchronization/secrets", 0),
    ("secrets fingerprint tag", "PATCH", SP, 1),
    ("schema", "PUT", f"{JOB}/schema", 0),
    ("first assignment", "POST", f"{SP}/appRoleAssignedTo", 0),
    ("second assignment", "POST", f"{SP}/appRoleAssignedTo", 1),
    ("start", "POST", f"{JOB}/start", 0),
]
CASES = [
    pytest.param(method, path, skip, after, id=f"{name}, {when}")
    for name, method, path, skip in WRITES
    for after, when in ((False, "not carried out"), (True, "answer lost"))
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "skip", "after"), CASES)
def test_apply_interrupted_at_any_write_resumes_without_duplicates(
    graph: Graph,
    prompt_service: PromptService,
    tmp_path: Path,
    method: str,
    path: str,
    skip: int,
    after: bool,
) -> None:
    org_file = example_for(tmp_path, prompt_service)
    graph.emulator.add_fault(
        status=500, count=1, skip=skip, after=after, method=method, path=path
    )

    run(graph, "apply", str(org_file))
    assert graph.emulator.state()["faults"] == [], "the fault was never hit"
    assert run(graph, "apply", str(org_file)) == 0

    state = graph.emulator.state()
    writes = graph.emulator.writes()["byRoute"]
    assert writes["POST /applicationTemplates/{template_id}/instantiate"] == 1
    assert len(state["applications"]) == len(state["servicePrincipals"]) == 1
    (job,) = state["jobs"]
    assert job["schedule"]["state"] == "Active"
    assigned = sorted(a["principalDisplayName"] for a in state["assignments"])
    assert assigned == ["Alice Adams", "Prompt Users"]

    (sp,) = state["servicePrincipals"]
    secret = graph.emulator.secret_values(sp["id"])["SecretToken"]
    _, held = prompt_service.store.authenticate(secret)
    live = [t.id for t in prompt_service.store.list_tokens("example") if not t.revoked]
    assert live == [held.id]

    graph.emulator.reset_writes()
    assert run(graph, "apply", str(org_file)) == 0
    assert graph.emulator.writes()["total"] == 0
