"""Many organisations at once: bounded concurrency, isolated failures, progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from provisioning._run import Outcome, run_each
from provisioning.errors import ProvisioningError
from provisioning.spec import OrganisationSpec, load_organisation

from .engine_support import ROOT

EXAMPLE = load_organisation(ROOT / "organisations" / "example.yaml")


def organisations(count: int) -> list[tuple[Path, OrganisationSpec]]:
    return [
        (Path(f"org-{n}.yaml"), EXAMPLE.model_copy(update={"organisation": f"org-{n}"}))
        for n in range(count)
    ]


def run(
    items: list[tuple[Path, OrganisationSpec]], concurrency: int, fail: str = ""
) -> tuple[list[Outcome[str]], int]:
    in_flight = peak = 0

    async def step(path: Path, spec: OrganisationSpec) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        if spec.organisation == fail:
            raise ProvisioningError(f"{fail} broke")
        return spec.organisation

    outcomes = asyncio.run(
        run_each(items, step, concurrency=concurrency, label="applying")
    )
    return outcomes, peak


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_at_most_concurrency_organisations_run_at_once(concurrency: int) -> None:
    outcomes, peak = run(organisations(12), concurrency)

    assert peak == concurrency
    assert [o.value for o in outcomes] == [f"org-{n}" for n in range(12)]


def test_one_failure_is_recorded_and_the_others_complete() -> None:
    outcomes, _ = run(organisations(5), 2, fail="org-1")

    assert [o.ok for o in outcomes] == [True, False, True, True, True]
    assert outcomes[1].error == "org-1 broke"
    assert outcomes[4].value == "org-4"


def test_progress_bar_is_drawn_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")

    run(organisations(3), 2)

    err = capsys.readouterr().err
    assert "applying" in err
    assert "3/3" in err
    assert "━" in err  # the bar
