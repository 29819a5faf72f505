"""The pulumi/ program folder must not shadow the SDK; providers pickle by reference."""

from __future__ import annotations

import os
import subprocess
import sys

from pulumi.dynamic.dynamic import serialize_provider

from prompt_pulumi.prompt_side import PromptOrganisationSettingsProvider
from prompt_pulumi.providers import (
    CredentialCheckProvider,
    SynchronizationJobStartProvider,
    SynchronizationSchemaProvider,
)

from .pulumi_harness import ROOT

PROVIDERS = [
    SynchronizationSchemaProvider,
    CredentialCheckProvider,
    SynchronizationJobStartProvider,
    PromptOrganisationSettingsProvider,
]


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter from the repository root, root first on
    sys.path (as a Pulumi program or a dynamic provider process may have it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_no_init_file_makes_pulumi_folders_packages() -> None:
    assert not (ROOT / "pulumi" / "__init__.py").exists()
    # tests/pulumi is the package tests.pulumi, never a top-level 'pulumi'.
    assert (ROOT / "tests" / "__init__.py").exists()


def test_import_pulumi_from_the_repository_root_gets_the_sdk() -> None:
    location = run_python(
        "import pulumi, pulumi.dynamic; print(pulumi.__file__, pulumi.dynamic.Resource)"
    )

    assert "site-packages" in location
    assert "pulumi.dynamic" in location


def test_providers_pickle_by_reference_and_load_in_a_fresh_process() -> None:
    blobs = [serialize_provider(provider()) for provider in PROVIDERS]

    # By reference: a few hundred bytes naming the class, no captured state.
    assert all(len(blob) < 400 for blob in blobs), [len(b) for b in blobs]
    loaded = run_python(
        "import base64, dill\n"
        f"for blob in {blobs!r}:\n"
        "    print(type(dill.loads(base64.b64decode(blob))).__qualname__)"
    )
    assert loaded.split() == [provider.__name__ for provider in PROVIDERS]
