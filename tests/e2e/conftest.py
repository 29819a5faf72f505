"""Fixture `stack`: a fresh SCIM service, emulator and applied organisation per test.

Parametrised over the two PATCH shapes Entra sends: legacy (default) and the
`aadOptscim062020` flag on the Tenant URL (scim-entra.md 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from entra_emulator import Emulator

from ._stack import ADMIN_KEY, SEED, Stack, emulator_config, org_file, start_scim


@pytest.fixture(params=[False, True], ids=["legacy-patch", "aadOptscim062020"])
def stack(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    """Both servers on loopback and `prompt-provision apply` done (no cycle yet)."""
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_KEY", ADMIN_KEY)
    store, wire, scim_server = start_scim(tmp_path)
    emulator = Emulator(emulator_config(), seed=SEED)
    with scim_server as prompt_url, emulator.serve_in_thread() as emulator_url:
        stack = Stack(
            emulator=emulator,
            emulator_url=emulator_url,
            prompt_url=prompt_url,
            store=store,
            wire=wire,
            org_file=org_file(tmp_path, prompt_url, flag=request.param),
            flag=request.param,
        )
        stack.apply()
        yield stack
        stack.close()
    store.close()
