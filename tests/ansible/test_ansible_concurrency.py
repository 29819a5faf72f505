"""Concurrency of onboard.yml: throttle caps parallel modules; batches sum up.

Parallel runs are observed from outside: the module processes of this test's
ansible runs (found by the organisations folder in their environment), sampled
from /proc while the playbook runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .ansible_support import Landscape, Run, landscape

pytestmark = pytest.mark.slow

SLUGS = ("org-a", "org-b", "org-c")
MODULE_FILE = b"AnsiballZ_prompt_organisation.py"


@pytest.fixture(scope="module")
def land(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landscape]:
    with landscape(tmp_path_factory.mktemp("throttle")) as started:
        for slug in SLUGS:
            started.add_organisation(slug)
        yield started


def module_processes(marker: bytes) -> int:
    """How many Python processes run the prompt_organisation module of this test."""
    count = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue  # gone, or not ours
        # /bin/sh -c '... AnsiballZ_...' wraps each run; count the interpreter.
        python = Path(argv[0].decode(errors="replace")).name.startswith("python")
        if python and any(MODULE_FILE in arg for arg in argv) and marker in environ:
            count += 1
    return count


def most_at_once(land: Landscape, *args: str, forks: int = 3) -> tuple[Run, int]:
    """Run onboard.yml in check mode; return it and the most modules seen at once."""
    marker = str(land.folder).encode()
    stop = threading.Event()
    most = [0]

    def sample() -> None:
        while not stop.is_set():
            most[0] = max(most[0], module_processes(marker))
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run = land.playbook("onboard.yml", "--check", "--forks", str(forks), *args)
    finally:
        stop.set()
        sampler.join(timeout=10)
    return run, most[0]


def test_throttle_and_forks_cap_organisations_running_at_once(
    land: Landscape,
) -> None:
    # The control shows the sampling sees parallel runs when nothing caps them.
    free, free_most = most_at_once(land)
    throttled, throttled_most = most_at_once(land, "-e", "prompt_throttle=1")
    one_fork, one_fork_most = most_at_once(land, forks=1)

    for run in (free, throttled, one_fork):
        assert run.returncode == 0, run.explain()
        assert all(run.recap[slug]["changed"] == 1 for slug in SLUGS), run.recap
    assert free_most >= 2
    assert throttled_most == 1
    assert one_fork_most == 1


def test_each_batch_ends_with_a_summary_of_every_organisation_so_far(
    land: Landscape,
) -> None:
    run = land.playbook("onboard.yml", "--check", "-e", "prompt_batch_size=2")

    assert run.returncode == 0, run.explain()
    headers = [line.strip() for line in run.stdout.splitlines() if "onboard: " in line]
    assert headers == [
        '"onboard: 2 organisation(s), 2 changed, 0 failed",',
        '"onboard: 3 organisation(s), 3 changed, 0 failed",',
    ]
    last = run.stdout.rsplit("TASK [Summary of onboard]", 1)[1]
    for slug in SLUGS:
        assert f'"{slug}: would apply' in last
