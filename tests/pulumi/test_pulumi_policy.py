"""Policy on the mocked resource graph: what use_existing adopts is retained."""

from __future__ import annotations

import pulumi
import pulumi_azuread as azuread
import pytest

from prompt_pulumi.policy import Registration, adopted_without_retain

from .pulumi_harness import (
    FIXTURES,
    SERVICE_PRINCIPAL,
    GraphMocks,
    ProgramRun,
    RecordingMonitor,
    Registered,
    run_program,
)


def registrations(registered: list[Registered]) -> list[Registration]:
    return [
        Registration(r.type, r.name, r.inputs, r.retain_on_delete) for r in registered
    ]


@pytest.mark.parametrize("stack", ["acme", "example"])
def test_program_retains_everything_it_adopts(
    monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    monkeypatch.setenv("PROMPT_SCIM_TOKEN_ACME", "t")
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_KEY", "k")
    config = {"prompt:organisationFile": str(FIXTURES / "acme.yaml")}
    run: ProgramRun = run_program(stack, config if stack == "acme" else {})

    adopted = [r for r in run.registered if r.inputs.get("useExisting") is True]

    assert [r.type for r in adopted] == [SERVICE_PRINCIPAL]
    assert adopted_without_retain(registrations(run.registered)) == []


def test_policy_flags_an_adopted_resource_without_retain() -> None:
    mocks = GraphMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="prompt", stack="bad", monitor=monitor)

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        adopted = azuread.ServicePrincipal("adopted", client_id="c", use_existing=True)
        kept = azuread.ServicePrincipal(
            "kept",
            client_id="c",
            use_existing=True,
            opts=pulumi.ResourceOptions(retain_on_delete=True),
        )
        azuread.ServicePrincipal("created", client_id="c")
        return pulumi.Output.all(adopted.id, kept.id).apply(lambda ids: ids[0])

    program()
    problems = adopted_without_retain(registrations(monitor.registered))

    assert len(problems) == 1
    assert "'adopted'" in problems[0]
    assert "retain_on_delete" in problems[0]
